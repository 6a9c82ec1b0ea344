"""Quality gates: compare a material's figures with the pipeline's thresholds."""

from __future__ import annotations

from .pipeline import Gates


def check_gates(figures: dict, gates: Gates) -> list[str]:
    """One message per missed gate, with the figure and the threshold."""
    failed = []
    if gates.psnr_min is not None and figures["psnr"] < gates.psnr_min:
        failed.append(f"PSNR {figures['psnr']:.2f} dB < {gates.psnr_min:g} dB")
    for group, floor in gates.group_psnr_min.items():
        value = figures["psnr_by_group"].get(group)
        if value is not None and value < floor:
            failed.append(f"{group} PSNR {value:.2f} dB < {floor:g} dB")
    angle = figures.get("normal_angle_deg") or {}
    if isinstance(angle, (int, float)):  # older manifests carry the mean alone
        angle = {"mean": float(angle)}
    if gates.normal_error_mean_max_deg is not None and angle.get("mean", 0.0) > gates.normal_error_mean_max_deg:
        failed.append(f"normal error mean {angle['mean']:.2f} deg > {gates.normal_error_mean_max_deg:g} deg")
    if (
        gates.normal_error_p99_max_deg is not None
        and angle.get("p99", angle.get("mean", 0.0)) > gates.normal_error_p99_max_deg
    ):
        failed.append(
            f"normal error p99 {angle.get('p99', angle.get('mean', 0.0)):.2f} deg "
            f"> {gates.normal_error_p99_max_deg:g} deg"
        )
    if gates.bppc_max is not None and figures["bppc"] > gates.bppc_max:
        failed.append(f"bppc {figures['bppc']:.4f} > {gates.bppc_max:g}")
    limit = gates.cutout_wrong_side_max
    for mask in (figures.get("cutout") or {}).get("channels", []) if limit is not None else []:
        if mask["wrong_side"] > limit:
            failed.append(
                f"{mask['channel']} wrong side of the cutoff {100 * mask['wrong_side']:.2f}% > {100 * limit:g}%"
            )
    return failed
