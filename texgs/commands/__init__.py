"""One module per CLI sub-command. Each defines HELP (one line),
add_arguments(parser) and run(args) -> int exit status. Keep module-level
imports light: every command module is imported to build the parser."""
