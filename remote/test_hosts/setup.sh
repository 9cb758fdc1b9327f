#!/usr/bin/env bash
# Starts N real OpenSSH hosts for the remote tests: each a network namespace with its own
# address on a private bridge (10.200.0.0/24), its own mount and UTS namespace (own /tmp and
# hostname) and its own sshd, reached as an unprivileged test user with a generated key.
# Where namespaces cannot be made, one private sshd on 127.0.0.1 stands in for every host.
# Usage: setup.sh [N]   State (keys, ssh_config, pids, logs): $RPCP_TEST_HOSTS_DIR. Also there
# for tests: wrong_key (a key no host accepts) and noexec_dir (the path of a directory mounted
# noexec on every host).
# RPCP_TEST_HOSTS_MODE=loopback forces the fallback (to test it where namespaces work).
# Prints one ssh_config host alias per line. teardown.sh undoes exactly what this started.
set -euo pipefail
count=${1:-3}
state=${RPCP_TEST_HOSTS_DIR:-/run/rpcp-test-hosts}   # not under /tmp: each host mounts its own
user=rpcptest
bridge=rpcpbr0

[ "$(id -u)" -eq 0 ] || { echo "setup.sh: must run as root (namespaces, sshd)" >&2; exit 1; }
[ -x /usr/sbin/sshd ] || { echo "setup.sh: /usr/sbin/sshd missing: apt-get install openssh-server" >&2; exit 1; }
"$(dirname "$0")/teardown.sh" >/dev/null 2>&1 || true
mkdir -p "$state" /run/sshd
chmod 755 "$state"
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
usermod -p '*' "$user"  # no password, but not locked: sshd (UsePAM no) refuses locked accounts

ssh-keygen -q -t ed25519 -N '' -f "$state/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$state/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$state/wrong_key"   # for tests: a key no host accepts
cp "$state/client_key.pub" "$state/authorized_keys"
chmod 644 "$state/authorized_keys"
: > "$state/ssh_config"
: > "$state/known_hosts"

write_sshd_config() {  # address port name
  cat > "$state/sshd_$3.conf" <<CONF
ListenAddress $1
Port $2
HostKey $state/host_key
PidFile none
AuthorizedKeysFile $state/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers $user
MaxStartups 100:30:200
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
CONF
}

add_client_entry() {  # alias address port
  cat >> "$state/ssh_config" <<CONF
Host $1
  HostName $2
  Port $3
  User $user
  IdentityFile $state/client_key
  UserKnownHostsFile $state/known_hosts
  StrictHostKeyChecking accept-new
  BatchMode yes
  LogLevel ERROR
CONF
}

# Keeps sshd's malloc from trimming on every transfer (measured: 0.9 s of CPU per 20 MB).
tunables="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"

start_namespaced() {
  ip link add "$bridge" type bridge
  ip addr add 10.200.0.1/24 dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$count"); do
    local host="rpcp-h$i" address="10.200.0.$((i + 1))"
    ip netns add "$host"
    ip link add "rpcpv$i" type veth peer name eth0 netns "$host"
    ip link set "rpcpv$i" master "$bridge" up
    ip -n "$host" addr add "$address/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" link set lo up
    ip -n "$host" route add default via 10.200.0.1
    write_sshd_config "$address" 22 "$host"
    add_client_entry "$host" "$address" 22
    mkdir -p "$state/$host"
    # Own /tmp (tmpfs) and hostname, in a mount and UTS namespace of the host's own, and a
    # noexec directory in that /tmp.
    ip netns exec "$host" unshare --mount --uts /bin/sh -c "
      hostname $host && mount -t tmpfs -o mode=1777 tmpfs /tmp &&
      mkdir /tmp/noexec && mount -t tmpfs -o mode=1777,noexec tmpfs /tmp/noexec &&
      GLIBC_TUNABLES=$tunables exec /usr/sbin/sshd -D -f $state/sshd_$host.conf -E $state/$host/sshd.log" \
      </dev/null >/dev/null 2>&1 &
    echo $! > "$state/$host/sshd.pid"
    echo "$host" >> "$state/hosts"
  done
  echo /tmp/noexec > "$state/noexec_dir"
}

start_loopback() {
  write_sshd_config 127.0.0.1 42022 loopback
  # The noexec directory, shared by every host here; teardown.sh unmounts it.
  mkdir -p "$state/noexec"
  mount -t tmpfs -o mode=1777,noexec tmpfs "$state/noexec"
  echo "$state/noexec" > "$state/noexec_dir"
  mkdir -p "$state/loopback"
  GLIBC_TUNABLES=$tunables /usr/sbin/sshd -D -f "$state/sshd_loopback.conf" -E "$state/loopback/sshd.log" \
    </dev/null >/dev/null 2>&1 &
  echo $! > "$state/loopback/sshd.pid"
  for i in $(seq 1 "$count"); do
    add_client_entry "rpcp-h$i" 127.0.0.1 42022
    echo "rpcp-h$i" >> "$state/hosts"
  done
}

: > "$state/hosts"
if [ "${RPCP_TEST_HOSTS_MODE:-}" != loopback ] && ip netns add rpcp-probe 2>/dev/null &&
   ip netns del rpcp-probe; then
  start_namespaced
  echo namespaces > "$state/mode"
else
  start_loopback
  echo loopback > "$state/mode"
fi

# Ready when each host answers over ssh (deadline 15 s each).
for host in $(cat "$state/hosts"); do
  deadline=$((SECONDS + 15))
  until ssh -F "$state/ssh_config" "$host" true 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "setup.sh: $host did not answer ssh within 15 s; its log:" >&2
      tail -5 "$state/$host/sshd.log" "$state/loopback/sshd.log" 2>/dev/null >&2
      exit 1
    fi
    sleep 0.1
  done
done
cat "$state/hosts"
