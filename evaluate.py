"""Paper-style PSNR/SSIM tables for a jaxsr model on benchmark folders — the same command as ``jaxsr
evaluate`` (its flags, its help: ``python evaluate.py --help``; the code: ``jaxsr/cli/evaluate.py``).

  python evaluate.py --model vdsr --data_dir DATA/test --datasets Set5,Set14,B100 --scales 2,3,4
"""

if __name__ == "__main__":
    from jaxsr.cli.evaluate import cli

    cli(prog="python evaluate.py")
