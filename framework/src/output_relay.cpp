#include "rpc_parallel/detail/output_relay.hpp"

#include "rpc_parallel/detail/death_note.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <ostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

std::shared_ptr<output_relay> output_relay::start(asio::any_io_executor executor, int fd,
                                                  std::ostream& out, log_source fallback,
                                                  bool as_json) {
  std::shared_ptr<output_relay> relay(
      new output_relay(executor, fd, out, std::move(fallback), as_json));
  asio::co_spawn(executor, relay->relay(), asio::detached);
  return relay;
}

output_relay::output_relay(asio::any_io_executor executor, int fd, std::ostream& out,
                           log_source fallback, bool as_json)
    : pipe_(executor, fd),
      out_(&out),
      fallback_(std::move(fallback)),
      as_json_(as_json),
      done_signal_(executor) {}

void output_relay::emit(const std::string& line) {
  // The framework's note of a clean exit is for the death report only.
  if (muted_ || line.starts_with(clean_exit_marker)) return;
  if (who_) {
    write(line);
    out_->flush();
  } else {
    waiting_.push_back(line);
  }
}

void output_relay::write(const std::string& line) {
  if (!as_json_)
    *out_ << prefix_ << line << '\n';
  else if (line.starts_with('{'))
    *out_ << line << '\n';
  else
    *out_ << json_log_line(*who_, log_level::info, line) << '\n';
}

void output_relay::name(log_source who) {
  prefix_ = "[" + who.host + " " + (who.pid > 0 ? std::to_string(who.pid) : "-") + " " +
            who.worker + "] ";
  who_ = std::move(who);
  for (const auto& line : waiting_) write(line);
  if (!waiting_.empty()) out_->flush();
  waiting_.clear();
}

asio::awaitable<void> output_relay::relay() {
  auto self = shared_from_this();
  std::string buffer;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(pipe_, asio::dynamic_buffer(buffer), '\n',
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!buffer.empty())
        n = buffer.size();  // a last line without its newline
      else
        break;
    }
    std::string line = buffer.substr(0, n);
    buffer.erase(0, n);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    emit(line);
    tail_.push_back(std::move(line));
    if (tail_.size() > 40) tail_.pop_front();
    if (ec) break;
  }
  if (!who_) name(fallback_);
  // The tail may be kept long after (death_report.hpp): not the descriptor.
  boost::system::error_code ignored;
  pipe_.close(ignored);
  done_ = true;
  done_signal_.cancel();
}

asio::awaitable<void> output_relay::finished() {
  auto self = shared_from_this();
  while (!done_) {
    done_signal_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await done_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::string output_relay::tail() const {
  std::string text;
  for (auto& line : tail_) text += "  " + line + "\n";
  if (!text.empty()) text.pop_back();
  return text;
}

}  // namespace rpc_parallel::detail
