// Remote figures: workers spawned over ssh on the real sshd hosts of remote/test_hosts (started
// and torn down here), beside ssh's own floors measured against the same hosts in the same run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <rpc_parallel/app.hpp>

namespace bench {

/// Registers the worker these figures spawn on the hosts.
void add_remote_workers(rpc_parallel::app& app);

/// Starts 4 test hosts and measures: the floors (`ssh host true` over a fresh and over a control
/// connection, uploading this binary over a fresh one); a first spawn on a host from nothing
/// (no copy, no ControlMaster): copy_to_host + spawn + one RPC; a later spawn + first RPC; 16
/// workers on 4 hosts, from nothing and warm. Medians of 20 (quick: 5). Tears the hosts down,
/// also when a figure throws. Needs root.
boost::asio::awaitable<void> measure_remote(bool quick);

}  // namespace bench
