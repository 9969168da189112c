# Sanitizers for every target in the build (Asio/Beast included, so their state is
# instrumented too). TSan and ASan cannot be mixed; the presets never do.
if(STEADYLOOP_SANITIZE)
  if(STEADYLOOP_SANITIZE MATCHES "thread" AND STEADYLOOP_SANITIZE MATCHES "address")
    message(FATAL_ERROR "ThreadSanitizer cannot be combined with AddressSanitizer")
  endif()
  add_compile_options(-fsanitize=${STEADYLOOP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${STEADYLOOP_SANITIZE})
  # clang 14 cannot emit the type data of UBSan's -fsanitize=function check for coroutine
  # frames ("Cannot represent a difference across sections"); every other check stays.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND STEADYLOOP_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
