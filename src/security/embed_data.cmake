# embed_data.cmake - turns a data file into a C++ source defining
#   const char berth::security::embedded::<SYMBOL>[];  const size_t <SYMBOL>Size;
# Run by the build (cmake -P) whenever the data file changes, so the file stays the single
# source of truth. Arguments: -DINPUT=<file> -DOUTPUT=<file.cpp> -DSYMBOL=<name>.
foreach(arg INPUT OUTPUT SYMBOL)
  if(NOT DEFINED ${arg})
    message(FATAL_ERROR "embed_data.cmake: ${arg} is not set")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
if(hex_len EQUAL 0)
  message(FATAL_ERROR "embed_data.cmake: ${INPUT} is empty")
endif()
# 16 bytes a line, each as 0xNN.
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])"
       "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(name "${INPUT}" NAME)

file(WRITE "${OUTPUT}.tmp"
"// Generated from ${name} by src/security/embed_data.cmake. Do not edit: edit the data file.
#include <cstddef>

namespace berth::security::embedded {
extern const char ${SYMBOL}[];
extern const std::size_t ${SYMBOL}Size;
const char ${SYMBOL}[] = {
${bytes}
};
const std::size_t ${SYMBOL}Size = sizeof(${SYMBOL});
}  // namespace berth::security::embedded
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
