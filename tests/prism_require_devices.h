/* prism_require_devices.h — PRISM_REQUIRE_DEVICES: tests whose device or plugin must be present fail instead
 * of skipping. */
#ifndef PRISM_TESTS_PRISM_REQUIRE_DEVICES_H_
#define PRISM_TESTS_PRISM_REQUIRE_DEVICES_H_

#include <stdlib.h>
#include <string.h>

/*
 * Note [Required devices]
 * -----------------------
 * A test that needs a device or plugin skips ("skipped: <reason>") where it
 * is missing, so a build on a machine without OpenCL still passes. On a
 * machine where the device must exist (CI, scripts/test.sh) that skip would
 * hide a broken driver or a plugin that failed to load, so
 *   PRISM_REQUIRE_DEVICES=cpu,opencl:0,emu:0
 * names the devices that must be there, and every skip for one of them
 * becomes a failure. An entry matches a device of the same name, and a bare
 * type ("opencl") matches every index of that type.
 */

/* 1 when PRISM_REQUIRE_DEVICES lists `device` ("cpu", "opencl:0", "emu"). */
static inline int prism_test_device_required(const char* device) {
  const char* list = getenv("PRISM_REQUIRE_DEVICES");
  const char* colon = strchr(device, ':');
  const size_t dev_len = strlen(device);
  const size_t type_len = colon != NULL ? (size_t)(colon - device) : dev_len;
  while (list != NULL && *list != '\0') {
    const char* end = strchr(list, ',');
    const size_t len = end != NULL ? (size_t)(end - list) : strlen(list);
    const char* item_colon = (const char*)memchr(list, ':', len);
    const size_t item_type_len = item_colon != NULL ? (size_t)(item_colon - list) : len;
    if (len > 0 && ((len == dev_len && memcmp(list, device, len) == 0) ||
                    (item_colon == NULL && len == type_len && memcmp(list, device, len) == 0) ||
                    (colon == NULL && item_type_len == dev_len && memcmp(list, device, dev_len) == 0)))
      return 1;
    list = end != NULL ? end + 1 : NULL;
  }
  return 0;
}

#endif /* PRISM_TESTS_PRISM_REQUIRE_DEVICES_H_ */
