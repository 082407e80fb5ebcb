#ifndef FERVID_MAXPOOL_H
#define FERVID_MAXPOOL_H

#include "fervid_isa.h"

// MARK: Max pooling

/// Max-pools `planes` contiguous h×w planes of x into oh×ow planes of y: window k×k, stride s,
/// padding top/left (padded cells never win; a window with no pixel gives −∞). `scratch` holds
/// h·ow floats. `isa` picks the compiled variant.
void fervid_maxpool(int isa, const float *x, float *y, long planes, int h, int w, int oh, int ow, int k, int s,
                    int top, int left, float *scratch);

#endif
