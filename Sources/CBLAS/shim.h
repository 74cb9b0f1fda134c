// OpenBLAS's CBLAS interface, found through pkg-config (openblas.pc puts its include dir on the path).
#include <cblas.h>
// blasint is a macro-selected typedef in OpenBLAS; give Swift one stable name for it.
typedef blasint cblas_int;
