/* Fuzzes the YAML configuration reader (through a temporary file, as the agent reads it). */
#include "core/config.h"
#include "core/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/mdagent-fuzz-config-%d.yaml", (int)getpid());
        md_log_set_level(MD_LOG_OFF);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    md_config c;
    md_config_init(&c);
    md_error err;
    if (md_config_load_file(&c, path, &err) == 0) md_config_validate(&c, &err);
    md_config_deinit(&c);
    return 0;
}
