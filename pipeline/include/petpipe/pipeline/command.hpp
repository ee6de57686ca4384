#pragma once
// Declarative subcommands: each one states its synopsis, description, examples and references in one
// place, and --help is rendered from that (after MRtrix3's usage()).
#include <functional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace petpipe::cli {

namespace po = boost::program_options;

struct Example {
  std::string command;
  std::string explanation;
};

struct Command {
  std::string name;
  std::string synopsis;     // one line
  std::string description;  // paragraphs separated by blank lines
  std::vector<Example> examples;
  std::vector<std::string> references;
  // Adds the command's own options (and positional arguments).
  std::function<void(po::options_description&, po::positional_options_description&)> add_options;
  // Runs the command; returns the process exit code. Throws petpipe::Error on failure.
  std::function<int(const po::variables_map&)> run;
};

// All registered subcommands, in the order `petpipe --help` lists them (by registration order key).
std::vector<Command> commands();

// Registration, used through PETPIPE_REGISTER_COMMAND(factory, order) at namespace scope in the
// command's own source file. Lower order keys are listed first.
bool register_command(Command (*factory)(), int order);

#define PETPIPE_REGISTER_COMMAND(factory, order) \
  namespace {                                     \
  const bool factory##_registered = ::petpipe::cli::register_command(&factory, order); \
  }

std::string render_help(const Command& command, const po::options_description& options);

// Strict integer parsing of a command-line token: true when the whole of `text` is an integer
// (no trailing characters), which is stored in `value`.
bool parse_integer(const std::string& text, long& value);

// Entry point used by main() and by in-process tests.
int run_main(int argc, const char* const* argv);

// Runs one subcommand in-process with the given arguments (args[0] = subcommand name), exactly as
// `petpipe <args...>` would, but errors are thrown as petpipe::Error instead of printed. The runner
// chains stages this way, so every stage it runs can be repeated by hand with the same command line.
void run_in_process(const std::vector<std::string>& args);

}  // namespace petpipe::cli
