#ifndef FERVID_CBLAS_SHIM_H
#define FERVID_CBLAS_SHIM_H
#include <cblas.h>
#endif
