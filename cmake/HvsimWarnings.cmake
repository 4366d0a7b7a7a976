# Warnings are errors for all of hvsim's own host code.
add_library(hvsim_warnings INTERFACE)
target_compile_options(hvsim_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough -Wcast-align)
