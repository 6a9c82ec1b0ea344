// placeholder: the CUDA renderer lands here
namespace texgs { int cuda_placeholder() { return 0; } }
