# Compiler warnings for the project's own code, in one INTERFACE target.
add_library(steadyloop_warnings INTERFACE)
target_compile_options(steadyloop_warnings INTERFACE
  -Wall -Wextra -Wpedantic      # the usual baseline
  -Wshadow                      # a local hiding a member is a classic coroutine-lambda bug
  -Wnon-virtual-dtor            # polymorphic types must be deletable through the base
  -Wcast-align -Wunused -Woverloaded-virtual
  -Wimplicit-fallthrough
  # g++ 12 misreports the coroutine frame operator new/delete of asio::awaitable.
  -Wno-mismatched-new-delete)
if(STEADYLOOP_WERROR)
  target_compile_options(steadyloop_warnings INTERFACE -Werror)
endif()
