# Sourced by the scripts and checks: which build they use, and where its binaries are.
#   RPCP_TOOLSET  clang (the default: Debian's clang 16) or gcc (g++ 12)
#   RPCP_VARIANT  release (the default), sanitize (ASan + UBSan) or portable
# b2_args holds the matching b2 properties; bin_dir FOLDER prints where FOLDER's programs are.
rpcp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RPCP_TOOLSET=${RPCP_TOOLSET:-clang}
RPCP_VARIANT=${RPCP_VARIANT:-release}
export RPCP_TOOLSET RPCP_VARIANT
case "$RPCP_TOOLSET" in
  clang) rpcp_toolset_dir=clang-linux-16 ;;
  gcc) rpcp_toolset_dir=gcc-12 ;;
  *) echo "RPCP_TOOLSET must be clang or gcc, not '$RPCP_TOOLSET'" >&2; exit 2 ;;
esac
b2_args=(toolset="$RPCP_TOOLSET" variant="$RPCP_VARIANT")

bin_dir() {
  echo "$rpcp_root/bin/$1/$rpcp_toolset_dir/$RPCP_VARIANT/cxxstd-20-iso/threading-multi"
}
