# Turns the dashboard page into a C++ source file, at build time:
#
#   cmake -DINPUT=index.html -DOUTPUT=dashboard_page.cpp -P embed.cmake
#
# The page becomes one raw string literal, steadyloop::service::dashboard_page. The file is
# rewritten only when its text changes, so an unchanged page recompiles nothing.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED INPUT OR NOT DEFINED OUTPUT)
  message(FATAL_ERROR "usage: cmake -DINPUT=<page.html> -DOUTPUT=<file.cpp> -P embed.cmake")
endif()

file(READ "${INPUT}" page)

# The literal ends at the first )steadyloop_page" it meets; a page holding that text
# would end it early, so refuse it rather than emit C++ that does not compile.
set(delimiter "steadyloop_page")
string(FIND "${page}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains ')${delimiter}\"', which would end the raw string literal")
endif()

cmake_path(GET INPUT FILENAME input_name)
set(text "// Generated from ${input_name} by embed.cmake at build time. Do not edit.\n")
string(APPEND text "#include <string_view>\n\n")
string(APPEND text "namespace steadyloop::service {\n\n")
string(APPEND text "extern std::string_view const dashboard_page;\n")
string(APPEND text "std::string_view const dashboard_page = R\"${delimiter}(")
string(APPEND text "${page}")
string(APPEND text ")${delimiter}\";\n\n")
string(APPEND text "}  // namespace steadyloop::service\n")

file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
