/* SPDX-License-Identifier: MIT */
/* Enumerates the devices of every OpenCL platform the ICD loader finds, in platform order. */
#include <stdio.h>
#include <string.h>

#include "ocl.h"

static int32_t device_type(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return KILN_DEVICE_GPU;
    if (t & CL_DEVICE_TYPE_CPU) return KILN_DEVICE_CPU;
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return KILN_DEVICE_ACCELERATOR;
    return KILN_DEVICE_OTHER;
}

static void info_str(cl_device_id d, cl_device_info what, char *buf, size_t size) {
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[size - 1] = '\0';
}

uint32_t ocl_enumerate(ocl_device *out, uint32_t max, char *why, size_t why_size) {
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (why_size) why[0] = '\0';
    if (e != CL_SUCCESS || np == 0) {
        snprintf(why, why_size, "no OpenCL platform (clGetPlatformIDs: %s)", e != CL_SUCCESS ? ocl_errstr(e) : "0 platforms");
        return 0;
    }
    cl_platform_id plats[16];
    if (np > 16) np = 16;
    if ((e = clGetPlatformIDs(np, plats, NULL)) != CL_SUCCESS) {
        snprintf(why, why_size, "no OpenCL platform (clGetPlatformIDs: %s)", ocl_errstr(e));
        return 0;
    }
    uint32_t n = 0;
    for (cl_uint p = 0; p < np && n < max; p++) {
        char pname[128] = "";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof(pname), pname, NULL);
        pname[sizeof(pname) - 1] = '\0';
        cl_device_id devs[OCL_MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, OCL_MAX_DEVICES, devs, &nd) != CL_SUCCESS) continue;
        for (cl_uint j = 0; j < nd && n < max; j++) {
            ocl_device *d = &out[n];
            memset(d, 0, sizeof(*d));
            d->platform = plats[p];
            d->dev = devs[j];
            char ver[64], ext[8192];
            cl_device_type t = 0;
            cl_ulong gm = 0, lm = 0;
            size_t wg = 0;
            info_str(devs[j], CL_DEVICE_NAME, d->dev_name, sizeof(d->dev_name));
            info_str(devs[j], CL_DRIVER_VERSION, d->driver, sizeof(d->driver));
            info_str(devs[j], CL_DEVICE_VERSION, ver, sizeof(ver));
            info_str(devs[j], CL_DEVICE_EXTENSIONS, ext, sizeof(ext));
            clGetDeviceInfo(devs[j], CL_DEVICE_TYPE, sizeof(t), &t, NULL);
            clGetDeviceInfo(devs[j], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(gm), &gm, NULL);
            clGetDeviceInfo(devs[j], CL_DEVICE_LOCAL_MEM_SIZE, sizeof(lm), &lm, NULL);
            clGetDeviceInfo(devs[j], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(wg), &wg, NULL);
            snprintf(d->id, sizeof(d->id), "opencl:%u", n);
            snprintf(d->name, sizeof(d->name), "%s (%s, %s)", d->dev_name, pname, ver);
            d->type = device_type(t);
            d->global_mem = gm;
            d->local_mem = lm;
            d->max_wg = wg;
            d->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            n++;
        }
    }
    if (n == 0) snprintf(why, why_size, "no OpenCL device (%u platform%s, none with a device)", np, np == 1 ? "" : "s");
    return n;
}

const char *ocl_errstr(cl_int e) {
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_EVENT: return "CL_INVALID_EVENT";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "an OpenCL error";
    }
}
