#!/usr/bin/env python3
"""PyTorch peer latencies for the CUDA provider's device check (scripts/device-check-cuda.sh):
torchvision ResNet-50 and MobileNetV2 and transformers' BERT-base (random weights, the same
architectures as ../shared/models/build_models.py), batch 1 and 8, fp32 and fp16, eager and
replayed as a CUDA graph. Prints one line per case: median milliseconds over 50 runs after 10
warm-up runs. Runs only where torch with CUDA is installed (the lent GPU machine)."""
import statistics
import sys
import time


def timed(fn, sync, runs=50, warm=10):
    for _ in range(warm):
        fn()
    sync()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


def main():
    try:
        import torch
    except ImportError:
        print("torch is not installed: no peer figures")
        return 0
    if not torch.cuda.is_available():
        print("torch sees no CUDA device: no peer figures")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    models = {}
    try:
        import torchvision
        models["resnet50"] = (lambda: torchvision.models.resnet50(weights=None), lambda b: (torch.randn(b, 3, 224, 224),))
        models["mobilenetv2"] = (lambda: torchvision.models.mobilenet_v2(weights=None), lambda b: (torch.randn(b, 3, 224, 224),))
    except ImportError:
        print("torchvision missing: no ResNet-50/MobileNetV2 peers")
    try:
        import transformers
        cfg = transformers.BertConfig()  # BERT-base: 12 layers, hidden 768, 12 heads
        models["bert_base"] = (lambda: transformers.BertModel(cfg),
                               lambda b: (torch.randint(0, cfg.vocab_size, (b, 128)),))
    except ImportError:
        print("transformers missing: no BERT-base peer")
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for name, (make, inputs) in models.items():
        for dtype in (torch.float32, torch.float16):
            net = make().eval().to(dev)
            if dtype == torch.float16:
                net = net.half()
            for batch in (1, 8):
                xs = [x.to(dev) for x in inputs(batch)]
                xs = [x.half() if x.is_floating_point() and dtype == torch.float16 else x for x in xs]
                with torch.inference_mode():
                    eager = timed(lambda: net(*xs), torch.cuda.synchronize)
                    # CUDA graph: capture one forward on a side stream after warm-up, then replay.
                    s = torch.cuda.Stream()
                    s.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(s):
                        for _ in range(3):
                            net(*xs)
                    torch.cuda.current_stream().wait_stream(s)
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        net(*xs)
                    graph = timed(g.replay, torch.cuda.synchronize)
                print(f"{name} batch {batch} {str(dtype).split('.')[-1]}: eager {eager:.3f} ms, cuda graph {graph:.3f} ms")
            del net
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
