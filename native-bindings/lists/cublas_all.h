/* The cuBLAS and cuBLASLt headers in one translation unit for jextract. */
#include <cublas_v2.h>
#include <cublasLt.h>
