#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver, run from each target's own main (SwiftPM names an
   executable's entry point itself, so libFuzzer's main cannot be used). */
int mptcpctl_fuzz_main(int argc, char **argv, int (*one_input)(const uint8_t *data, size_t size));
