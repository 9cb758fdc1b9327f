# rpc_parallel, as installed by `b2 install --prefix=DIR`, for find_package(rpc_parallel).
# Imported targets: rpc_parallel::rpc_parallel (the framework) and rpc_parallel::remote (workers
# on other hosts over ssh). Both are static libraries; each brings its include path, C++20 and
# the libraries it needs.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(Boost 1.81 CONFIG COMPONENTS serialization program_options stacktrace_backtrace json)

get_filename_component(_rpc_parallel_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
find_library(RPC_PARALLEL_SODIUM_LIBRARY sodium)
if(NOT RPC_PARALLEL_SODIUM_LIBRARY)
  set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
  set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE
      "rpc_parallel needs libsodium: install Debian's libsodium-dev")
  return()
endif()

if(NOT TARGET rpc_parallel::rpc_parallel)
  add_library(rpc_parallel::rpc_parallel STATIC IMPORTED)
  set_target_properties(rpc_parallel::rpc_parallel PROPERTIES
    IMPORTED_LOCATION "${_rpc_parallel_prefix}/lib/librpc_parallel.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_rpc_parallel_prefix}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_20
    INTERFACE_LINK_LIBRARIES
      "Boost::serialization;Boost::program_options;Boost::stacktrace_backtrace;Boost::json;${RPC_PARALLEL_SODIUM_LIBRARY};Threads::Threads")
  add_library(rpc_parallel::remote STATIC IMPORTED)
  set_target_properties(rpc_parallel::remote PROPERTIES
    IMPORTED_LOCATION "${_rpc_parallel_prefix}/lib/librpc_parallel_remote.a"
    INTERFACE_LINK_LIBRARIES rpc_parallel::rpc_parallel)
endif()
unset(_rpc_parallel_prefix)
