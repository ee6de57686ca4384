#include "petpipe/pipeline/command.hpp"

int main(int argc, char** argv) { return petpipe::cli::run_main(argc, argv); }
