// Everything a program using rpc_parallel needs.
#pragma once

#include "rpc_parallel/app.hpp"
#include "rpc_parallel/connection.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/fd_redirection.hpp"
#include "rpc_parallel/function.hpp"
#include "rpc_parallel/how_to_run.hpp"
#include "rpc_parallel/log.hpp"
#include "rpc_parallel/map_reduce.hpp"
#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/serve.hpp"
#include "rpc_parallel/shutdown_on.hpp"
#include "rpc_parallel/spawn.hpp"
#include "rpc_parallel/stream.hpp"
#include "rpc_parallel/worker.hpp"
#include "rpc_parallel/worker_process.hpp"
#include "rpc_parallel/worker_type.hpp"
