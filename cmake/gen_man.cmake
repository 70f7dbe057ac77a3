# Writes the man page from the binary's own tables: cmake -DFORGE=<binary> -DOUT=<file> -P gen_man.cmake
execute_process(COMMAND ${FORGE} help --man OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "forge help --man failed: ${rc}")
endif()
