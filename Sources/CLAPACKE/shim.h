#include <lapacke.h>
// lapack_int is a #define, which Swift does not import.
typedef lapack_int clapack_int;
