#include "petpipe/pipeline/command.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/provenance.hpp"

namespace petpipe::cli {

namespace {
std::vector<std::pair<int, Command (*)()>>& registry() {
  static std::vector<std::pair<int, Command (*)()>> r;
  return r;
}
}  // namespace

bool register_command(Command (*factory)(), int order) {
  registry().emplace_back(order, factory);
  return true;
}

std::vector<Command> commands() {
  auto r = registry();
  std::stable_sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Command> all;
  for (const auto& [order, factory] : r) all.push_back(factory());
  return all;
}

namespace {

std::string wrap(const std::string& text, std::size_t indent, std::size_t width = 100) {
  std::ostringstream out;
  std::istringstream paragraphs(text);
  std::string para;
  bool first_para = true;
  // Paragraphs are separated by "\n\n"; single newlines are kept as line breaks.
  std::string rest = text;
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    auto next = rest.find("\n\n", pos);
    para = rest.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!first_para) out << "\n";
    first_para = false;
    std::istringstream lines(para);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string word;
      std::size_t col = indent;
      out << std::string(indent, ' ');
      bool first = true;
      while (words >> word) {
        if (!first && col + 1 + word.size() > width) {
          out << "\n" << std::string(indent, ' ');
          col = indent;
          first = true;
        }
        if (!first) {
          out << ' ';
          ++col;
        }
        out << word;
        col += word.size();
        first = false;
      }
      out << "\n";
    }
    if (next == std::string::npos) break;
    pos = next + 2;
  }
  return out.str();
}

void add_common_options(po::options_description& d) {
  d.add_options()("help,h", "show this help")
      ("quiet,q", "only errors and warnings")
      ("verbose,v", "also debug messages")
      ("threads", po::value<std::string>(), "worker threads, 1..1024 (default: all cores)")
      ("force", "overwrite existing outputs");
}

std::string top_level_help() {
  std::ostringstream os;
  os << "petpipe " << version_string() << " — dynamic brain PET to receptor-availability maps and group "
                                          "statistics\n\n"
     << "USAGE\n    petpipe <command> [options]\n    petpipe <command> --help\n    petpipe --version\n\n"
     << "COMMANDS\n";
  for (const auto& c : commands()) {
    os << "    " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.synopsis
       << "\n";
  }
  os << "\nCOMMON OPTIONS\n    --quiet, --verbose, --threads N, --force, --help\n";
  return os.str();
}

}  // namespace

std::string render_help(const Command& c, const po::options_description& options) {
  std::ostringstream os;
  os << "petpipe " << c.name << " — " << c.synopsis << "\n\n";
  os << "DESCRIPTION\n" << wrap(c.description, 4) << "\n";
  std::ostringstream opts;
  opts << options;
  os << "OPTIONS\n" << opts.str() << "\n";
  if (!c.examples.empty()) {
    os << "EXAMPLES\n";
    for (const auto& e : c.examples) os << "    $ " << e.command << "\n" << wrap(e.explanation, 8) << "\n";
  }
  if (!c.references.empty()) {
    os << "REFERENCES\n";
    for (const auto& r : c.references) os << wrap(r, 4);
  }
  return os.str();
}

bool parse_integer(const std::string& text, long& value) {
  std::size_t used = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used > 0 && used == text.size();
}

namespace {
const Command* find_command(const std::vector<Command>& all, const std::string& name) {
  for (const auto& c : all)
    if (c.name == name) return &c;
  return nullptr;
}

// Parses the arguments of one subcommand (argv[0] is the subcommand name). Throws po::error.
po::variables_map parse_command(const Command& cmd, int argc, const char* const* argv, po::options_description& options) {
  po::positional_options_description positional;
  cmd.add_options(options, positional);
  add_common_options(options);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
  return vm;
}
}  // namespace

void run_in_process(const std::vector<std::string>& args) {
  if (args.empty()) throw Error("run_in_process: no subcommand");
  const auto all = commands();
  const Command* cmd = find_command(all, args[0]);
  if (!cmd) throw make_error("unknown command \"", args[0], "\"");
  std::vector<const char*> argv{"petpipe"};
  for (const auto& a : args) argv.push_back(a.c_str());
  set_command_line(static_cast<int>(argv.size()), argv.data());
  po::options_description options("", 110, 55);
  po::variables_map vm;
  try {
    vm = parse_command(*cmd, static_cast<int>(argv.size()) - 1, argv.data() + 1, options);
    po::notify(vm);
  } catch (const po::error& e) {
    throw make_error("petpipe ", args[0], ": ", e.what());
  }
  const int code = cmd->run(vm);
  if (code != 0) throw make_error("petpipe ", args[0], " exited with status ", code);
}

int run_main(int argc, const char* const* argv) {
  set_command_line(argc, argv);
  if (argc < 2) {
    std::cerr << top_level_help();
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::cout << top_level_help();
    return 0;
  }
  if (name == "--version") {
    std::cout << "petpipe " << version_string() << " (git " << git_hash() << ")\n";
    return 0;
  }
  const auto all = commands();
  const Command* cmd = find_command(all, name);
  if (!cmd) {
    std::cerr << "petpipe: error: unknown command \"" << name << "\" (see petpipe --help)\n";
    return 2;
  }

  po::options_description options("", 110, 55);
  po::variables_map vm;
  try {
    vm = parse_command(*cmd, argc - 1, argv + 1, options);
    if (vm.count("help")) {
      std::cout << render_help(*cmd, options);
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "petpipe " << name << ": error: " << e.what() << " (see petpipe " << name
              << " --help)\n";
    return 2;
  }
  if (vm.count("quiet")) log::set_level(log::Level::warn);
  if (vm.count("verbose")) log::set_level(log::Level::debug);
  try {
    if (vm.count("threads")) {
      long n = 0;
      const std::string t = vm["threads"].as<std::string>();
      if (!parse_integer(t, n) || n < 1 || n > 1024) {
        std::cerr << "petpipe " << name << ": error: --threads: \"" << t << "\" is not allowed (expected an integer "
                  << "1..1024)\n";
        return 2;
      }
      set_thread_count(static_cast<unsigned>(n));
    }
    return cmd->run(vm);
  } catch (const Error& e) {
    std::cerr << "petpipe " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "petpipe " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace petpipe::cli
