// The nodes of a Slurm job's allocation, from the variables Slurm sets for it, and a map-reduce
// over them.
#include "rpc_parallel/slurm.hpp"

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/map_reduce.hpp"

#include <charconv>
#include <cstdlib>

namespace rpc_parallel::slurm {
namespace {

[[noreturn]] void malformed(std::string_view what, std::string_view text, std::string_view why) {
  throw rpc_error({error_kind::failed, std::string(what) + " \"" + std::string(text) +
                                           "\" is malformed: " + std::string(why)});
}

std::size_t number(std::string_view digits, std::string_view what, std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    std::string why;  // built by appends: g++ 12 warns falsely on "\"" + std::string(digits)
    why.append("\"").append(digits).append("\" is not a number");
    malformed(what, text, why);
  }
  return value;
}

// Splits at the commas outside brackets.
std::vector<std::string_view> top_level_items(std::string_view list) {
  std::vector<std::string_view> items;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    if (i < list.size() && list[i] == '[') ++depth;
    if (i < list.size() && list[i] == ']') --depth;
    if (depth < 0) malformed("the host list", list, "a ']' without its '['");
    if (i == list.size() || (list[i] == ',' && depth == 0)) {
      if (i > start) items.push_back(list.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) malformed("the host list", list, "a '[' without its ']'");
  return items;
}

// One item, its first bracket expanded and the rest recursively: "r[1-2]-n[3,5]".
void expand_item(std::string_view item, std::string_view list, std::vector<std::string>& out) {
  auto open = item.find('[');
  if (open == std::string_view::npos) {
    out.emplace_back(item);
    return;
  }
  auto close = item.find(']', open);
  std::string_view prefix = item.substr(0, open);
  std::string_view ranges = item.substr(open + 1, close - open - 1);
  std::string_view rest = item.substr(close + 1);
  for (std::size_t start = 0; start <= ranges.size();) {
    auto comma = std::min(ranges.find(',', start), ranges.size());
    std::string_view range = ranges.substr(start, comma - start);
    auto dash = range.find('-');
    std::string_view first = range.substr(0, dash);
    std::string_view last = dash == std::string_view::npos ? first : range.substr(dash + 1);
    std::size_t from = number(first, "the host list", list);
    std::size_t to = number(last, "the host list", list);
    if (to < from)
      malformed("the host list", list, "the range " + std::string(range) + " is empty");
    for (std::size_t n = from; n <= to; ++n) {
      std::string digits = std::to_string(n);
      if (digits.size() < first.size()) digits.insert(0, first.size() - digits.size(), '0');
      expand_item(std::string(prefix) + digits + std::string(rest), list, out);
    }
    start = comma + 1;
  }
}

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    throw rpc_error(
        {error_kind::failed, std::string("not in a Slurm allocation: $") + name +
                                 " is not set; run the master under salloc, sbatch or srun"});
  return value;
}

}  // namespace

std::vector<std::string> expand_host_list(std::string_view list) {
  std::vector<std::string> names;
  for (std::string_view item : top_level_items(list)) expand_item(item, list, names);
  return names;
}

std::vector<std::size_t> expand_cpus_per_node(std::string_view counts) {
  std::vector<std::size_t> cpus;
  for (std::size_t start = 0; start < counts.size();) {
    auto comma = std::min(counts.find(',', start), counts.size());
    std::string_view item = counts.substr(start, comma - start);
    std::size_t repeat = 1;
    if (auto open = item.find("(x"); open != std::string_view::npos) {
      if (item.back() != ')') malformed("the CPU counts", counts, "a '(x' without its ')'");
      repeat = number(item.substr(open + 2, item.size() - open - 3), "the CPU counts", counts);
      item = item.substr(0, open);
    }
    cpus.insert(cpus.end(), repeat, number(item, "the CPU counts", counts));
    start = comma + 1;
  }
  return cpus;
}

allocation allocation::of(std::string job_id, std::string_view node_list,
                          std::string_view cpus_per_node) {
  std::vector<std::string> names = expand_host_list(node_list);
  std::vector<std::size_t> cpus = expand_cpus_per_node(cpus_per_node);
  if (names.size() != cpus.size())
    throw rpc_error({error_kind::failed, "the Slurm job " + job_id + " lists " +
                                             std::to_string(names.size()) + " nodes (" +
                                             std::string(node_list) + ") but " +
                                             std::to_string(cpus.size()) + " CPU counts (" +
                                             std::string(cpus_per_node) + ")"});
  allocation result;
  result.job_id_ = std::move(job_id);
  for (std::size_t i = 0; i < names.size(); ++i) result.nodes_.push_back({names[i], cpus[i]});
  return result;
}

allocation allocation::current() {
  return of(variable("SLURM_JOB_ID"), variable("SLURM_JOB_NODELIST"),
            variable("SLURM_JOB_CPUS_PER_NODE"));
}

rpc_parallel::map_config allocation::map_config(std::size_t local, options how) const {
  how.job_id = job_id_;
  auto config = rpc_parallel::map_config().with_local(local);
  for (const node& n : nodes_) config.add_remote(step(n.name, how), n.cpus);
  return config;
}

}  // namespace rpc_parallel::slurm
