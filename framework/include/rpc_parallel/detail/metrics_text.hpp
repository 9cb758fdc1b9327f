// The app's metrics in Prometheus' text exposition format (version 0.0.4): the figures of every
// process (metrics::snapshot, one JSON object each) summed into one set of series.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// The content type that format is served with.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// `processes`' figures summed, as Prometheus text; `unreachable` workers did not answer for
/// this scrape (their last figures are among `processes`).
std::string prometheus_text(const std::vector<boost::json::object>& processes,
                            std::size_t unreachable);

}  // namespace rpc_parallel::detail
