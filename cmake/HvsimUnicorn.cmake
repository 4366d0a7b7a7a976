# Finds the project-local Unicorn (scripts/setup.sh) and refuses anything older than 2.1:
# Unicorn 2.0.x walks guest page tables and then ignores them (see ../shared/UNICORN.md).
# Links the static archive so the system's libunicorn (Debian 12: 2.0.1) can never be picked up.
set(_uc_inc "${HVSIM_UNICORN_PREFIX}/usr/include")
set(_uc_lib "${HVSIM_UNICORN_PREFIX}/usr/lib/x86_64-linux-gnu/libunicorn.a")
if(NOT EXISTS "${_uc_inc}/unicorn/unicorn.h" OR NOT EXISTS "${_uc_lib}")
  message(FATAL_ERROR "Unicorn 2.1.x not found under HVSIM_UNICORN_PREFIX=${HVSIM_UNICORN_PREFIX}; "
                      "run scripts/setup.sh")
endif()
file(STRINGS "${_uc_inc}/unicorn/unicorn.h" _uc_major REGEX "^#define UC_API_MAJOR [0-9]+")
file(STRINGS "${_uc_inc}/unicorn/unicorn.h" _uc_minor REGEX "^#define UC_API_MINOR [0-9]+")
file(STRINGS "${_uc_inc}/unicorn/unicorn.h" _uc_patch REGEX "^#define UC_API_PATCH [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _uc_major "${_uc_major}")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _uc_minor "${_uc_minor}")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _uc_patch "${_uc_patch}")
set(HVSIM_UNICORN_VERSION "${_uc_major}.${_uc_minor}.${_uc_patch}")
if(HVSIM_UNICORN_VERSION VERSION_LESS 2.1 OR HVSIM_UNICORN_VERSION VERSION_GREATER_EQUAL 3)
  message(FATAL_ERROR "hvsim needs Unicorn 2.1.x, found ${HVSIM_UNICORN_VERSION} in ${_uc_inc}: "
                      "2.0.x ignores guest paging")
endif()
message(STATUS "Unicorn ${HVSIM_UNICORN_VERSION}: ${_uc_lib}")
add_library(unicorn_static STATIC IMPORTED)
set_target_properties(unicorn_static PROPERTIES IMPORTED_LOCATION "${_uc_lib}")
# DEVNOTE: SYSTEM include so Unicorn's headers do not trip -Werror.
target_include_directories(unicorn_static SYSTEM INTERFACE "${_uc_inc}")
target_link_libraries(unicorn_static INTERFACE Threads::Threads m)
