"""Dose metrics of every modality against hand-worked examples (arithmetic in comments)."""

from __future__ import annotations

import math

import pytest

from phantomlab.protocols import load_protocol, shannon_k


def test_shannon_k_definition() -> None:
    # Q = 1.35 uC, D = 11.25 uC/cm^2 -> k = log10(1.35) + log10(11.25)
    #   = 0.130334 + 1.051153 = 1.181487
    assert shannon_k(1.35e-6, 11.25e-6 / 1e-4) == pytest.approx(1.181487, abs=1e-6)
    # Q = 1 uC, D = 1 uC/cm^2 -> k = 0
    assert shannon_k(1e-6, 1e-2) == pytest.approx(0.0, abs=1e-12)


def test_scs_tonic_issue_example() -> None:
    p = load_protocol(
        "modality: scs\nwaveform: tonic\nlead: percutaneous\nvertebral_level: T10\n"
        "amplitude: 4.5 mA\npulse_width: 300 us\nfrequency: 50 Hz\ncontact_area: 12 mm^2\n"
        "duration: 1 h\nschedule: {sessions: 30}\n"
    )
    d = p.dose()
    # Q = 4.5 mA * 300 us = 4.5e-3 * 300e-6 = 1.35e-6 C
    assert d.charge_per_phase_C == pytest.approx(1.35e-6)
    # D = 1.35e-6 C / 12e-6 m^2 = 0.1125 C/m^2 (= 11.25 uC/cm^2)
    assert d.charge_density_C_per_m2 == pytest.approx(0.1125)
    # k = log10(1.35) + log10(11.25) = 1.181487
    assert d.shannon_k == pytest.approx(1.181487, abs=1e-6)
    # J = 4.5e-3 A / 12e-6 m^2 = 375 A/m^2
    assert d.current_density_A_per_m2 == pytest.approx(375.0)
    # pulses = 50 Hz * 3600 s = 180000
    assert d.pulses_per_session == pytest.approx(180_000)
    # pulse shape not stated: whether the phases cancel is unknown, so no charge per
    # session (monophasic: 180000 * 1.35e-6 = 0.243 C; biphasic: net 0)
    assert d.charge_per_session_C is None and d.net_charge_per_session_C is None
    mono = p.replace(pulse_shape="monophasic").dose()
    assert mono.charge_per_session_C == mono.net_charge_per_session_C == pytest.approx(0.243)
    # cumulative over 30 sessions: 5.4e6 pulses, 7.29 C (monophasic), 30 h
    assert d.cumulative_pulses == pytest.approx(5.4e6)
    assert mono.cumulative_charge_C == pytest.approx(7.29)
    assert d.cumulative_duration_s == pytest.approx(30 * 3600)


def test_scs_burst_pulse_rate() -> None:
    p = load_protocol(
        {
            "modality": "scs",
            "waveform": "burst",
            "amplitude": "1 mA",
            "pulse_width": "1 ms",
            "frequency": "500 Hz",
            "burst_frequency": "40 Hz",
            "pulses_per_burst": 5,
            "duration": "10 s",
        }
    )
    d = p.dose()
    # rate = 40 bursts/s * 5 pulses = 200 pulses/s; 10 s -> 2000 pulses
    assert d.pulse_rate_Hz == pytest.approx(200)
    assert d.pulses_per_session == pytest.approx(2000)
    # Q = 1 mA * 1 ms = 1 uC; monophasic 2000 pulses -> 2 mC net
    assert d.charge_per_phase_C == pytest.approx(1e-6)
    assert p.replace(pulse_shape="monophasic").dose().charge_per_session_C == pytest.approx(2e-3)


def test_drg_dose() -> None:
    p = load_protocol(
        "modality: drg\nlevel: L4\nside: ipsilateral\namplitude: 0.8 mA\n"
        "pulse_width: 200 us\nfrequency: 20 Hz\ncontact_area: 4 mm^2\n"
    )
    d = p.dose()
    # Q = 0.8e-3 * 200e-6 = 1.6e-7 C = 0.16 uC
    # D = 1.6e-7 / 4e-6 = 0.04 C/m^2 = 4 uC/cm^2
    # k = log10(0.16) + log10(4) = -0.795880 + 0.602060 = -0.193820
    assert d.charge_per_phase_C == pytest.approx(1.6e-7)
    assert d.charge_density_C_per_m2 == pytest.approx(0.04)
    assert d.shannon_k == pytest.approx(-0.193820, abs=1e-6)


def test_pns_sinusoidal_block() -> None:
    p = load_protocol(
        "modality: pns\nnerves: [sciatic]\nwaveform: nerve_block\npulse_shape: sinusoidal\n"
        "amplitude: 5 mA\nfrequency: 10 kHz\ncontact_area: 20 mm^2\nduration: 30 min\n"
    )
    d = p.dose()
    # half-cycle charge of I sin(2 pi f t): I / (pi f) = 5e-3 / (pi * 1e4) = 1.591549e-7 C
    assert d.charge_per_phase_C == pytest.approx(5e-3 / (math.pi * 1e4))
    assert d.charge_per_phase_C == pytest.approx(1.591549e-7, rel=1e-6)
    # phases per second = 2 * 10 kHz = 20000; 1800 s -> 3.6e7 phases
    assert d.pulses_per_session == pytest.approx(3.6e7)


def test_dbs_voltage_with_impedance() -> None:
    p = load_protocol(
        "modality: dbs\nnuclei: [VPL]\nvoltage: 2.8 V\nimpedance: 1000 ohm\n"
        "pulse_width: 238 us\nfrequency: 22 Hz\ncontact_area: 6 mm^2\n"
    )
    d = p.dose()
    # I = 2.8 V / 1000 ohm = 2.8 mA; Q = 2.8e-3 * 238e-6 = 6.664e-7 C
    assert d.current_A == pytest.approx(2.8e-3)
    assert d.charge_per_phase_C == pytest.approx(6.664e-7)
    # D = 6.664e-7 / 6e-6 = 0.111067 C/m^2 = 11.1067 uC/cm^2
    # k = log10(0.6664) + log10(11.1067) = -0.176266 + 1.045585 = 0.869319
    assert d.shannon_k == pytest.approx(0.869319, abs=1e-5)


def test_dbs_voltage_without_impedance_has_no_charge() -> None:
    p = load_protocol("modality: dbs\nvoltage: 2.8 V\npulse_width: 238 us\nfrequency: 22 Hz")
    assert p.dose().charge_per_phase_C is None
    assert p.dose().shannon_k is None


def test_mcs_dose() -> None:
    p = load_protocol(
        "modality: mcs\nplacement: epidural\namplitude: 3 mA\npulse_width: 210 us\n"
        "frequency: 40 Hz\ncontact_area: 0.2 cm^2\n"
    )
    d = p.dose()
    # Q = 3e-3 * 210e-6 = 6.3e-7 C; D = 6.3e-7 / 2e-5 = 0.0315 C/m^2 = 3.15 uC/cm^2
    # k = log10(0.63) + log10(3.15) = -0.200659 + 0.498311 = 0.297651
    assert d.charge_density_C_per_m2 == pytest.approx(0.0315)
    assert d.shannon_k == pytest.approx(0.297651, abs=1e-5)


def test_tdcs_issue_example() -> None:
    p = load_protocol(
        "modality: tdcs\ntarget: M1 hand area contralateral\nanode: C3\ncathode: Fp2\n"
        "current: 2 mA\nelectrode_area: 35 cm^2\nduration: 20 min\n"
        "schedule: {sessions: 10, per_week: 5}\n"
    )
    d = p.dose()
    # J = 2e-3 A / 35e-4 m^2 = 0.571429 A/m^2
    assert d.current_density_A_per_m2 == pytest.approx(0.5714286)
    # charge = 2e-3 A * 1200 s = 2.4 C; 10 sessions -> 24 C
    assert d.charge_per_session_C == pytest.approx(2.4)
    assert d.cumulative_charge_C == pytest.approx(24.0)
    assert d.sessions == 10


def test_tdcs_ramps_add_half_their_time() -> None:
    p = load_protocol(
        "modality: tdcs\ncurrent: 1.5 mA\nduration: 15 min\nramp_up: 10 s\nramp_down: 10 s"
    )
    # charge = 1.5e-3 * (900 + (10 + 10) / 2) = 1.5e-3 * 910 = 1.365 C
    assert p.dose().charge_per_session_C == pytest.approx(1.365)
    # session time = 900 + 20 = 920 s
    assert p.dose().session_duration_s == pytest.approx(920)


def test_rtms_malavera_trains() -> None:
    p = load_protocol(
        "modality: rtms\nfrequency: 10 Hz\nintensity: 90 %MT\ntrains: 20\ntrain_duration: 6 s\n"
        "inter_train_interval: 54 s\nschedule: {sessions: 10}\n"
    )
    d = p.dose()
    # 20 trains * 6 s * 10 Hz = 1200 pulses; 10 sessions -> 12000
    assert d.pulses_per_session == pytest.approx(1200)
    assert d.cumulative_pulses == pytest.approx(12000)
    # session = 20 * 6 s + 19 * 54 s = 120 + 1026 = 1146 s
    assert d.session_duration_s == pytest.approx(1146)


def test_rtms_itbs() -> None:
    p = load_protocol(
        "modality: rtms\npattern: iTBS\nfrequency: 5 Hz\nburst_frequency: 50 Hz\n"
        "pulses_per_burst: 3\ntrains: 20\ntrain_duration: 2 s\ninter_train_interval: 8 s\n"
    )
    d = p.dose()
    # 20 trains * 2 s * 5 bursts/s * 3 pulses = 600 pulses
    assert d.pulses_per_session == pytest.approx(600)
    # session = 20 * 2 + 19 * 8 = 192 s
    assert d.session_duration_s == pytest.approx(192)


def test_rtms_continuous_low_frequency() -> None:
    p = load_protocol("modality: rtms\nfrequency: 1 Hz\nduration: 20 min")
    # 1 Hz * 1200 s = 1200 pulses
    assert p.dose().pulses_per_session == pytest.approx(1200)


def test_ti_envelope_and_density() -> None:
    p = load_protocol(
        "modality: ti\nelectrode_area: 4 cm^2\nduration: 20 min\npairs:\n"
        "  - {electrodes: [F5, P5], current: 1 mA, frequency: 2000 Hz}\n"
        "  - {electrodes: [F6, P6], current: 2 mA, frequency: 2020 Hz}\n"
    )
    d = p.dose()
    # envelope = |2000 - 2020| = 20 Hz
    assert d.envelope_frequency_Hz == pytest.approx(20.0)
    # J = max(1, 2) mA / 4 cm^2 = 2e-3 / 4e-4 = 5 A/m^2
    assert d.current_density_A_per_m2 == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("text", "per_session", "total"),
    [
        # mirror: 15 min; 5/week x 4 weeks = 20 sessions -> 300 min = 18000 s
        (
            "modality: mirror\nduration: 15 min\nschedule: {per_week: 5, "
            "treatment_duration: 4 weeks}",
            900,
            18000,
        ),
        # bci: 1 h x 3 sessions = 10800 s
        ("modality: bci\nduration: 1 h\nschedule: {sessions: 3}", 3600, 10800),
        # pme: 2 h x 12 sessions = 86400 s
        ("modality: pme\nduration: 2 h\nschedule: {sessions: 12}", 7200, 86400),
    ],
)
def test_behavioural_time_on_task(text: str, per_session: float, total: float) -> None:
    d = load_protocol(text).dose()
    assert d.session_duration_s == pytest.approx(per_session)
    assert d.cumulative_duration_s == pytest.approx(total)


def test_combination_has_component_doses() -> None:
    p = load_protocol(
        {
            "modality": "combination",
            "timing": "concurrent",
            "components": [
                {"modality": "tdcs", "current": "2 mA", "duration": "20 min"},
                {"modality": "mirror", "duration": "15 min"},
            ],
        }
    )
    d = p.dose()
    assert len(d.components) == 2
    # tDCS component: 2 mA * 1200 s = 2.4 C
    assert d.components[0].charge_per_session_C == pytest.approx(2.4)
    assert d.components[1].session_duration_s == pytest.approx(900)
    assert "components" in d.to_dict()


def test_sham_dose_is_the_active_part() -> None:
    p = load_protocol(
        {
            "modality": "sham",
            "of": "bolognini2015_active",
            "method": "30 s",
            "active_duration": "30 s",
        }
    )
    # 1.5 mA * 30 s = 0.045 C
    assert p.dose().charge_per_session_C == pytest.approx(0.045)


def test_dose_keys_have_si_suffixes() -> None:
    keys = set(load_protocol("modality: tdcs\ncurrent: 1 mA").dose().to_dict())
    for k in (
        "charge_per_phase_C",
        "charge_density_C_per_m2",
        "shannon_k",
        "current_density_A_per_m2",
        "charge_per_session_C",
        "pulses_per_session",
        "envelope_frequency_Hz",
        "cumulative_charge_C",
    ):
        assert k in keys


def test_schedule_derivations() -> None:
    # per_day 1 over 60 days -> 60 sessions
    p = load_protocol("modality: pns\nschedule: {per_day: 1, treatment_duration: 60 days}")
    assert p.schedule is not None and p.schedule.n_sessions() == 60


# ---- dose metrics only where they have a physical meaning (issue #16) -----------------
HF10 = {
    "modality": "scs",
    "waveform": "high_frequency",
    "pulse_shape": "biphasic",
    "amplitude": "2 mA",
    "pulse_width": "30 us",
    "frequency": "10 kHz",
    "contact_area": "12 mm^2",
    "duration": "24 h",
}


def test_hf_scs_charge_balanced_reports_phase_charge_and_zero_net_charge() -> None:
    d = load_protocol(HF10).dose()
    # a sum of leading phases would be 2 mA * 30 us * 10 kHz * 86400 s = 51.84 C: meaningless
    assert d.charge_per_session_C is None and d.cumulative_charge_C is None
    assert d.net_charge_per_session_C == 0.0
    # what has a meaning: Q = 2e-3 * 30e-6 = 6e-8 C per phase; D = 6e-8 / 12e-6 = 5e-3 C/m^2
    assert d.charge_per_phase_C == pytest.approx(6e-8)
    assert d.charge_density_C_per_m2 == pytest.approx(5e-3)
    text = d.summary()
    assert "net_charge_per_session_C: 0 C" in text and "charge_per_session_C:" not in text.replace(
        "net_charge_per_session_C", ""
    )


def test_ablation_monophasic_pulses_carry_their_charge() -> None:
    # the same pulses, uncompensated: the net charge is real and reported
    d = load_protocol({**HF10, "pulse_shape": "monophasic", "frequency": "50 Hz"}).dose()
    # 6e-8 C * 50 Hz * 86400 s = 0.2592 C
    assert d.charge_per_session_C == pytest.approx(0.2592)
    assert d.net_charge_per_session_C == pytest.approx(0.2592)


def test_sinusoid_is_charge_balanced() -> None:
    p = load_protocol(
        "modality: pns\nnerves: [sciatic]\nwaveform: nerve_block\npulse_shape: sinusoidal\n"
        "amplitude: 5 mA\nfrequency: 10 kHz\ncontact_area: 20 mm^2\nduration: 30 min\n"
    )
    d = p.dose()
    assert d.net_charge_per_session_C == 0.0 and d.charge_per_session_C is None
    assert d.charge_per_phase_C == pytest.approx(5e-3 / (math.pi * 1e4))


def test_direct_current_keeps_its_charge() -> None:
    # tDCS is direct current: its charge per session is its net charge, 2 mA * 1200 s
    d = load_protocol("modality: tdcs\ncurrent: 2 mA\nduration: 20 min").dose()
    assert d.charge_per_session_C == pytest.approx(2.4)
