package dev.fovea.cuda;

import dev.fovea.cuda.ffm.cublas.Cublas;
import dev.fovea.cuda.ffm.cudart.CudaRuntime;
import dev.fovea.cuda.ffm.cudnn.Cudnn;
import dev.fovea.cuda.ffm.nvrtc.Nvrtc;

/** A CUDA library call failed; the message names the call and the library's own words for the status. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) { super(message); }

    static void cuda(int rc, String call) {
        if (rc != 0) throw new CudaException(call + " failed: " + cudaError(rc));
    }

    static String cudaError(int rc) {
        try {
            return CudaRuntime.cudaGetErrorName(rc).reinterpret(256).getString(0) + " (" + rc + "): "
                    + CudaRuntime.cudaGetErrorString(rc).reinterpret(1024).getString(0);
        } catch (RuntimeException | LinkageError e) {
            return "CUDA error " + rc;
        }
    }

    static void cublas(int rc, String call) {
        if (rc != 0) throw new CudaException(call + " failed: " + Cublas.cublasGetStatusString(rc).reinterpret(256).getString(0) + " (" + rc + ")");
    }

    static void cudnn(int rc, String call) {
        if (rc != 0) throw new CudaException(call + " failed: " + Cudnn.cudnnGetErrorString(rc).reinterpret(256).getString(0) + " (" + rc + ")");
    }

    static void nvrtc(int rc, String call) {
        if (rc != 0) throw new CudaException(call + " failed: " + Nvrtc.nvrtcGetErrorString(rc).reinterpret(256).getString(0) + " (" + rc + ")");
    }
}
