// The worker type that runs a map (or reduce) function: `map_worker<F>`, registered in `main`
// with `app.add_worker<rpc_parallel::map_worker<F>>()`. A batch of packed inputs in, packed
// outputs (or one accumulator) out.
#pragma once

#include "rpc_parallel/cancellation.hpp"
#include "rpc_parallel/detail/map_scheduler.hpp"
#include "rpc_parallel/detail/packed.hpp"
#include "rpc_parallel/function.hpp"
#include "rpc_parallel/worker_type.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace rpc_parallel {
namespace detail {

/// An item's outcome in a per-item batch reply: a byte 0 and its packed output, or a byte 1
/// and its packed error.
template <class Output>
void pack_outcome(const Output& value, std::string& out) {
  out.push_back('\0');
  pack(value, out);
}
inline void pack_failure(const error& e, std::string& out) {
  out.push_back('\1');
  pack(e, out);
}

/// Reads the outcomes of a per-item batch reply back.
template <class Output>
class outcome_reader {
 public:
  explicit outcome_reader(std::string_view bytes) : bytes_(bytes) {}
  or_error<Output> next() {
    if (bytes_.empty()) throw_malformed("item outcomes", "truncated");
    char tag = bytes_.front();
    bytes_.remove_prefix(1);
    if (tag == 0) return read<Output>();
    if (tag == 1) return read<error>();
    throw_malformed("item outcomes", "an unknown tag");
  }

 private:
  template <class T>
  T read() {
    unpacker<T> in(bytes_);
    T value = in.next();
    bytes_ = in.rest();
    return value;
  }
  std::string_view bytes_;
};

template <class F>
using param_member = typename F::param;
template <class F>
using map_state_member = typename F::state;
}  // namespace detail

/// What `F::init` takes: `F::param`, or `unit`.
template <class F>
using map_param_t = typename detail::member_or_unit<detail::param_member, F>::type;
/// The per-worker state of `F`: `F::state`, or `unit`.
template <class F>
using map_state_t = typename detail::member_or_unit<detail::map_state_member, F>::type;

template <class F>
concept reduce_function = requires { typename F::accum; };

/// The worker type that runs map (or reduce) function `F`; register it in `main`.
template <class F>
struct map_worker {
  static constexpr std::string_view name = F::name;
  using spawn_arg = std::pair<map_param_t<F>, std::uint64_t>;  // the param, the worker's index
  using state = map_state_t<F>;
  static state init_worker_state(spawn_arg arg) {
    if constexpr (requires { F::init(std::move(arg.first), arg.second); })
      return F::init(std::move(arg.first), arg.second);
    else if constexpr (requires { F::init(std::move(arg.first)); })
      return F::init(std::move(arg.first));
    else
      return state{};
  }

  /// Packed inputs -> status byte, then packed outputs (or one accum); on a throw: the status,
  /// the u32 offset of the item and its error.
  static constexpr rpc<map_worker, std::string, std::string> run_batch{"run_batch"};

  /// The same, the call going on past an item whose `map` throws: the status, the u32 number of
  /// such items, then each item's outcome (`detail::pack_outcome`).
  static constexpr rpc<map_worker, std::string, std::string> run_batch_each{"run_batch_each"};

  static void implement(implementations<map_worker>& impl) {
    impl.add(run_batch, [](state& s, std::string inputs) { return run(s, inputs); });
    if constexpr (!reduce_function<F>)
      impl.add(run_batch_each, [](state& s, std::string inputs) { return run_each(s, inputs); });
  }

 private:
  static decltype(auto) call(state& s, const typename F::input& x) {
    if constexpr (requires { F::map(s, x); })
      return F::map(s, x);
    else
      return F::map(x);
  }

  // Every this many items, a batch looks whether its call was given up (a deadline, the
  // scheduler's item timeout): a clock read per item would cost as much as a small item.
  static constexpr std::uint32_t items_between_checks = 64;

  // Never a partial answer: a batch given up half-way fails whole.
  static void throw_given_up() {
    throw rpc_error({error_kind::cancelled, "its batch was given up (cancelled or late)"});
  }

  static std::string run_each(state& s, std::string_view inputs) {
    std::string reply(5, '\0');  // status ok, then the count of failed items
    detail::unpacker<typename F::input> in(inputs);
    std::uint32_t failed = 0;
    try {
      for (std::uint32_t offset = 0; !in.empty(); ++offset) {
        if (offset % items_between_checks == 0 && rpc_parallel::cancelled()) throw_given_up();
        auto input = in.next();  // a malformed batch fails whole, below
        try {
          detail::pack_outcome<typename F::output>(call(s, input), reply);
        } catch (...) {
          ++failed;
          detail::pack_failure(current_exception_error(), reply);
        }
      }
    } catch (...) {
      reply.assign(1, static_cast<char>(detail::batch_status::item_failed));
      std::uint32_t none = 0;
      reply.append(reinterpret_cast<const char*>(&none), sizeof none);
      detail::encode(current_exception_error(), reply);
      return reply;
    }
    std::memcpy(reply.data() + 1, &failed, sizeof failed);
    return reply;
  }

  static std::string run(state& s, std::string_view inputs) {
    std::string reply(1, static_cast<char>(detail::batch_status::ok));
    if (inputs.empty()) return reply;  // a probe: is the worker answering?
    reply.reserve(1 + inputs.size());  // outputs are often about as large as inputs
    detail::unpacker<typename F::input> in(inputs);
    std::uint32_t offset = 0;
    auto given_up = [&offset] {
      return offset % items_between_checks == 0 && rpc_parallel::cancelled();
    };
    try {
      if constexpr (reduce_function<F>) {
        typename F::accum total = call(s, in.next());
        for (++offset; !in.empty() && !given_up(); ++offset)
          total = F::combine(std::move(total), call(s, in.next()));
        if (!in.empty()) throw_given_up();
        detail::encode(total, reply);
      } else if constexpr (detail::is_raw_v<typename F::input> &&
                           detail::is_raw_v<typename F::output>) {
        // Arrays in and out: one resize of the reply, then a load and a store per item.
        using input = typename F::input;
        using output = typename F::output;
        if (inputs.size() % sizeof(input) != 0)
          detail::throw_malformed("packed values", "truncated");
        std::size_t count = inputs.size() / sizeof(input);
        reply.resize(1 + count * sizeof(output));
        for (; offset < count && !given_up(); ++offset) {
          input x;
          std::memcpy(&x, inputs.data() + std::size_t(offset) * sizeof x, sizeof x);
          output y = call(s, x);
          std::memcpy(reply.data() + 1 + std::size_t(offset) * sizeof y, &y, sizeof y);
        }
        if (offset < count) throw_given_up();
      } else {
        for (; !in.empty() && !given_up(); ++offset) detail::pack(call(s, in.next()), reply);
        if (!in.empty()) throw_given_up();
      }
    } catch (...) {
      reply.assign(1, static_cast<char>(detail::batch_status::item_failed));
      reply.append(reinterpret_cast<const char*>(&offset), sizeof offset);
      detail::encode(current_exception_error(), reply);
    }
    return reply;
  }
};

}  // namespace rpc_parallel
