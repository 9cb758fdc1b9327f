#include "ssh_command.hpp"

#include "rpc_parallel/detail/process.hpp"
#include "rpc_parallel/worker_process.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

std::string shell_quote(std::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('\'');
  for (char c : text) {
    if (c == '\'')
      quoted.append("'\\''");  // close, an escaped quote, reopen
    else
      quoted.push_back(c);
  }
  quoted.push_back('\'');
  return quoted;
}

namespace {
asio::awaitable<void> feed(asio::writable_pipe pipe, std::string input) {
  boost::system::error_code ignored;  // a command that stops reading shows in its status
  co_await asio::async_write(pipe, asio::buffer(input),
                             asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace

// Runs `argv` (argv[0] on PATH) to completion with `input` on its stdin, capturing its output.
asio::awaitable<captured> run_capture(std::vector<std::string> argv, std::string input) {
  std::string program = argv.front();
  launched child = spawn_process(program, true, std::move(argv), this_environment(), true);
  auto executor = co_await asio::this_coro::executor;
  worker_process process(executor, child.pid, child.stdout_fd, child.stderr_fd);
  asio::writable_pipe stdin_pipe(executor, child.stdin_fd);
  auto writing = feed(std::move(stdin_pipe), std::move(input));
  auto outputs = co_await (std::move(writing) && process.read_stdout() && process.read_stderr());
  captured result;
  result.out = std::move(std::get<0>(outputs));
  result.err = std::move(std::get<1>(outputs));
  result.status = co_await process.wait();
  co_return result;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

std::string host_key(const ssh_options& ssh, const std::string& host) {
  std::string key = host;
  for (const auto& arg : ssh.arguments()) key += '\0' + arg;
  return key;
}

std::vector<std::string> ssh_command(const ssh_options& ssh, const std::string& host,
                                     std::vector<std::string> remote) {
  std::vector<std::string> args{"ssh"};
  auto options = ssh.arguments();
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"-T", host, "--"});
  args.insert(args.end(), remote.begin(), remote.end());
  return args;
}

}  // namespace rpc_parallel::detail
