/* SPDX-License-Identifier: MIT */
/* kiln-opencl-devices: lists the devices the OpenCL provider finds, numbered as its device=N
 * option numbers them. Exit 0 with a list, 1 with "no OpenCL device" and the reason. */
#include <stdio.h>
#include <stdlib.h>

#include "ocl.h"

int main(void) {
    static ocl_device devs[OCL_MAX_DEVICES];
    char why[200];
    uint32_t n = ocl_enumerate(devs, OCL_MAX_DEVICES, why, sizeof(why));
    if (!n) {
        printf("%s\n", why);
        return 1;
    }
    static const char *types[] = {"cpu", "gpu", "npu", "accelerator", "other"};
    for (uint32_t i = 0; i < n; i++)
        printf("device=%u  %s  [%s, driver %s, %llu MiB, local %llu KiB, work-group %zu%s]\n", i, devs[i].name,
               types[devs[i].type], devs[i].driver, (unsigned long long)(devs[i].global_mem >> 20),
               (unsigned long long)(devs[i].local_mem >> 10), devs[i].max_wg, devs[i].fp16 ? ", cl_khr_fp16" : "");
    return 0;
}
