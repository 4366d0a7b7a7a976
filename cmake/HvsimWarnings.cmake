# Warnings are errors for all of hvsim's own host code.
add_library(hvsim_warnings INTERFACE)
target_compile_options(hvsim_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough -Wcast-align)

# HVSIM_SANITIZE=ON builds hvsim's host code with AddressSanitizer and UndefinedBehaviorSanitizer
# (scripts/test.sh runs the model, unit and scenario tests so): a guest or a scenario must never
# make the host read or write out of bounds, even where the result happens to look right.
option(HVSIM_SANITIZE "Build host code with -fsanitize=address,undefined" OFF)
if(HVSIM_SANITIZE)
  target_compile_options(hvsim_warnings INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                                  -fno-omit-frame-pointer)
  target_link_options(hvsim_warnings INTERFACE -fsanitize=address,undefined)
endif()
