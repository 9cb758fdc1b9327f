#include "rpc_parallel/detail/wakeup.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

asio::awaitable<void> wakeup::wait() {
  boost::system::error_code ignored;
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace rpc_parallel::detail
