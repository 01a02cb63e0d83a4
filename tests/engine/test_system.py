"""Product systems with several processes: chains and loops solved exactly by the sparse solve."""

from __future__ import annotations

import logging
from decimal import Decimal

import numpy as np
import pytest
import scipy.sparse as sp
from pcfx.node.engine import InventoryError, compute, parse_inventory, prepare
from pcfx.node.engine.system import SolverError, factorise, topological_order


def _system(processes, reference=("plant", "product")):
    return parse_inventory(
        {
            "product": {
                "name": "loop test",
                "declared_unit": {"amount": "1", "unit": "t"},
                "reference": {"process": reference[0], "flow": reference[1]},
            },
            "processes": processes,
        }
    )


def _co2(kg: str):
    return [{"gas": "CO2", "amount": kg, "unit": "kg"}]


LOOP = [
    # own power plant burns gas and needs steam; the boiler needs electricity: a loop
    {
        "id": "plant",
        "outputs": [{"flow": "product", "amount": "1000", "unit": "t"}],
        "inputs": [
            {
                "flow": "electricity",
                "kind": "electricity",
                "amount": "45",
                "unit": "MWh",
                "from_process": "power",
            },
            {"flow": "steam", "kind": "heat", "amount": "90", "unit": "t", "from_process": "boiler"},
        ],
        "emissions": _co2("5000"),
    },
    {
        "id": "power",
        "outputs": [{"flow": "electricity", "amount": "100", "unit": "MWh"}],
        "inputs": [{"flow": "steam", "kind": "heat", "amount": "20", "unit": "t", "from_process": "boiler"}],
        "emissions": _co2("50000"),
    },
    {
        "id": "boiler",
        "outputs": [{"flow": "steam", "amount": "200", "unit": "t"}],
        "inputs": [
            {
                "flow": "electricity",
                "kind": "electricity",
                "amount": "10000",
                "unit": "kWh",
                "from_process": "power",
            }
        ],
        "emissions": _co2("20000"),
    },
]


def test_a_loop_is_solved_exactly():
    # e = (50000 + 20 s)/100, s = (20000 + 10 e)/200  =>  e = 520/0.99 kg/MWh, s = 100 + 0.05 e kg/t
    # product: (5000 + 45 e + 90 s)/1000 = (5000 + 9000 + 49.5 e)/1000 = (14000 + 26000)/1000 = 40 kg/t
    result = compute(_system(LOOP))
    assert result.total == Decimal("40")
    by_process = {c.process: c.co2e for c in result.by_process}
    # MWh per t of product m = 0.045 + 0.05 x steam, steam t = 0.09 + 0.2 x m  =>  m = 0.0495/0.99 = 0.05 MWh,
    # steam = 0.1 t; power plant 500 kg/MWh x 0.05 = 25 kg; boiler 100 kg/t x 0.1 = 10 kg; plant 5 kg
    assert by_process == {"plant": Decimal(5), "power": Decimal(25), "boiler": Decimal(10)}


def test_the_scaling_vector_of_the_loop_matches_the_hand_solution():
    prepared = prepare(_system(LOOP))
    scaling = {
        prepared.inventory.processes[c.process_index].id: s
        for c, s in zip(prepared.columns, prepared.scaling, strict=True)
    }
    # per t of product: plant 1/1000; MWh needed m = 0.045 + 10/200 x steam; steam t = 0.09 + 20/100 x m ...
    m = (0.045 + 0.05 * 0.09) / (1 - 0.05 * 0.2)
    steam = 0.09 + 0.2 * m
    assert scaling["plant"] == pytest.approx(0.001)
    assert scaling["power"] == pytest.approx(m / 100)
    assert scaling["boiler"] == pytest.approx(steam / 200)


def test_a_chain_follows_the_supply_order_whatever_the_file_order():
    chain = [
        {
            "id": "rolling",
            "outputs": [{"flow": "product", "amount": "10", "unit": "t"}],
            "inputs": [
                {
                    "flow": "slab",
                    "kind": "intermediate",
                    "amount": "10.5",
                    "unit": "t",
                    "from_process": "casting",
                }
            ],
            "emissions": _co2("300"),
        },
        {
            "id": "casting",
            "outputs": [{"flow": "slab", "amount": "21", "unit": "t"}],
            "emissions": _co2("2100"),
        },
    ]
    # rolling: 30 kg/t own + 1.05 t slab x 100 kg/t = 135 kg/t
    result = compute(_system(chain, reference=("rolling", "product")))
    assert result.total == Decimal("135")
    assert topological_order(2, [(1, 0)]) == [1, 0]


def test_self_consumption_reduces_the_net_output():
    processes = [
        {
            "id": "plant",
            "outputs": [{"flow": "product", "amount": "100", "unit": "t"}],
            "inputs": [
                {
                    "flow": "product",
                    "kind": "intermediate",
                    "amount": "20",
                    "unit": "t",
                    "from_process": "plant",
                }
            ],
            "emissions": _co2("800"),
        }
    ]
    # 800 kg for a net 80 t
    assert compute(_system(processes)).total == Decimal("10")


def test_a_system_that_consumes_all_it_makes_is_singular():
    processes = [
        {
            "id": "plant",
            "outputs": [{"flow": "product", "amount": "100", "unit": "t"}],
            "inputs": [
                {
                    "flow": "product",
                    "kind": "intermediate",
                    "amount": "100",
                    "unit": "t",
                    "from_process": "plant",
                }
            ],
            "emissions": _co2("800"),
        }
    ]
    with pytest.raises(SolverError, match="singular"):
        compute(_system(processes))


def test_the_solver_used_is_logged_and_recorded(caplog):
    with caplog.at_level(logging.INFO, logger="pcfx.node.engine"):
        result = compute(_system(LOOP))
    assert "SuperLU" in result.solver and "NATURAL" in result.solver
    assert any("solver: scipy SuperLU" in r.message for r in caplog.records)


def test_factorisation_keeps_a_triangular_matrix_free_of_fill_in():
    n = 2000
    rng = np.random.default_rng(1)
    rows = np.arange(1, n)
    cols = rng.integers(0, n - 1, n - 1)
    cols = np.minimum(cols, rows - 1)
    a = sp.identity(n, format="csc") - sp.csc_matrix((np.full(n - 1, 0.5), (cols, rows)), shape=(n, n))
    f = factorise(a)
    s = f.solve(np.eye(n)[-1])
    assert np.abs(a @ s - np.eye(n)[-1]).max() < 1e-12
    assert f.lu_nnz == a.nnz + n


def test_an_internal_flow_from_an_unknown_process_names_the_input():
    processes = [
        {
            "id": "plant",
            "outputs": [{"flow": "product", "amount": "1", "unit": "t"}],
            "inputs": [
                {"flow": "steam", "kind": "heat", "amount": "1", "unit": "t", "from_process": "boiler"}
            ],
        }
    ]
    with pytest.raises(InventoryError, match="comes from unknown process 'boiler'"):
        _system(processes)


def test_an_internal_flow_in_an_unconvertible_unit_is_an_error_naming_both_units():
    processes = [dict(p) for p in LOOP]
    processes[0] = {**LOOP[0], "inputs": [{**LOOP[0]["inputs"][0], "unit": "t"}, LOOP[0]["inputs"][1]]}
    with pytest.raises(InventoryError, match=r"'t' \(mass\) to 'MWh' \(energy\)"):
        compute(_system(processes))


def test_an_own_power_plant_fed_by_blast_furnace_gas_closes_the_loop_exactly():
    # BF: 100 t hot metal (3000 CNY/t) + 200 000 Nm3 BF gas (0.15 CNY/Nm3), 150 000 kg CO2, 5 MWh from the
    # power plant; economic shares 300 000 : 30 000 = 10/11 : 1/11. Power plant: 40 MWh from all the gas,
    # 80 000 kg CO2. With X = 150 000 + 5 e (the BF burden): e = (80 000 + 200 000 g)/40, g = X/11/200 000
    # => e = 2000 + X/440, X = 160 000 + X/88 => X = 160 000 x 88/87; hot metal = (10/11) X / 100 = 128 000/87
    processes = [
        {
            "id": "blast furnace",
            "outputs": [
                {"flow": "hot metal", "kind": "product", "amount": "100", "unit": "t", "price": "3000"},
                {"flow": "BF gas", "kind": "co-product", "amount": "200000", "unit": "Nm3", "price": "0.15"},
            ],
            "inputs": [
                {
                    "flow": "electricity",
                    "kind": "electricity",
                    "amount": "5",
                    "unit": "MWh",
                    "from_process": "power",
                }
            ],
            "emissions": _co2("150000"),
            "allocation": "economic",
        },
        {
            "id": "power",
            "outputs": [{"flow": "electricity", "amount": "40", "unit": "MWh"}],
            "inputs": [
                {
                    "flow": "BF gas",
                    "kind": "fuel",
                    "amount": "200000",
                    "unit": "Nm3",
                    "from_process": "blast furnace",
                }
            ],
            "emissions": _co2("80000"),
        },
    ]
    result = compute(_system(processes, reference=("blast furnace", "hot metal")))
    assert result.total.quantize(Decimal("0.000001")) == (Decimal(128000) / Decimal(87)).quantize(
        Decimal("0.000001")
    )
    (record,) = result.allocation
    assert record.method == "economic"
    assert record.shares["hot metal"] == Decimal(10) / Decimal(11)
