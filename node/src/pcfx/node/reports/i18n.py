"""The report's fixed strings in English and Chinese: one small catalogue, looked up by key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

__all__ = ["LANGS", "Catalogue", "Lang", "catalogue_translator", "term", "translator"]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# key -> (English, Chinese). Placeholders use str.format names.
_CATALOGUE: dict[str, tuple[str, str]] = {
    # document
    "report_title": ("Carbon footprint of product: study report", "产品碳足迹研究报告"),
    "certificate_title": ("Product carbon footprint declaration: summary", "产品碳足迹声明摘要"),
    "generated": (
        "Generated {at} by pcfx from the node's stored result",
        "由 pcfx 于 {at} 根据节点存储的计算结果生成",
    ),
    "page": ("page", "页"),
    # sections (GB/T 24067-2024 / ISO 14067:2018 clause 7)
    "sec_goal": ("1 Goal and scope", "1 目的与范围"),
    "sec_unit": ("2 Declared unit and functional unit", "2 声明单位与功能单位"),
    "sec_boundary": ("3 System boundary", "3 系统边界"),
    "sec_cutoff": ("4 Cut-off criteria", "4 取舍准则"),
    "sec_data": ("5 Data sources and data quality", "5 数据来源与数据质量"),
    "sec_allocation": ("6 Allocation", "6 分配"),
    "sec_electricity": ("7 Electricity", "7 电力"),
    "sec_gwp": ("8 Characterisation: GWP set", "8 特征化：全球增温潜势"),
    "sec_results": ("9 Results", "9 结果"),
    "sec_uncertainty": ("10 Uncertainty and sensitivity", "10 不确定性与敏感性"),
    "sec_primary": ("11 Primary data share and supplier-specific data", "11 初级数据比例与供应商特定数据"),
    "sec_limitations": ("12 Limitations", "12 局限性"),
    "sec_declaration": ("13 Declaration", "13 声明"),
    # certificate
    "cert_company": ("Company", "企业"),
    "cert_company_id": ("Company id", "企业标识"),
    "cert_product": ("Product", "产品"),
    "cert_product_id": ("Product id", "产品标识"),
    "cert_cfp": ("Carbon footprint (excluding biogenic uptake)", "产品碳足迹（不含生物源碳吸收）"),
    "cert_scan": ("Scan for the declaration id and where to verify it", "扫码获取声明编号及验证方式"),
    "cert_note": (
        "Self-declared by the company named above and signed with its key; not a third-party certificate "
        "unless a verifier's assurance is listed.",
        "由上述企业自我声明并以其密钥签名；除非列有核查机构的保证，否则不是第三方证书。",
    ),
    # labels
    "standard": ("Standard", "标准"),
    "rule_set": ("Product rule set", "产品核算规则"),
    "group_standard": ("Group standard", "团体标准"),
    "not_confirmed": ("not confirmed", "未确认"),
    "rule_unverified": (
        "The rule set was not verified against the group standard's text; GB/T 24067-2024 defaults apply.",
        "该核算规则未经团体标准原文核对，按 GB/T 24067-2024 的默认规定执行。",
    ),
    "purpose": ("Purpose", "目的"),
    "purpose_text": (
        "Quantify the carbon footprint of the product per declared unit and disclose it to business "
        "customers as a signed footprint declaration exchanged over pcfx (PACT v3).",
        "量化每声明单位产品的碳足迹，并以签名的碳足迹声明（PACT v3）经 pcfx 向企业客户披露。",
    ),
    "audience": ("Intended audience", "预期受众"),
    "audience_text": ("Business customers, verifiers and the company itself", "企业客户、核查机构及企业自身"),
    "cfp_kind": ("Type of study", "研究类型"),
    "partial_cfp": ("partial CFP (cradle-to-gate)", "部分产品碳足迹（从摇篮到大门）"),
    "full_cfp": ("CFP", "产品碳足迹"),
    "period": ("Reference period", "数据时间范围"),
    "geography": ("Geography", "地理范围"),
    "declared_unit": ("Declared unit", "声明单位"),
    "reference_flow": ("Reference flow", "基准流"),
    "mass_per_unit": ("Product mass per declared unit", "每声明单位产品质量"),
    "functional_unit_note": (
        "Cradle-to-gate studies declare a declared unit; a functional unit (e.g. 1 kWh delivered over the "
        "service life of a battery) follows from use-stage parameters outside this study.",
        "从摇篮到大门的研究采用声明单位；功能单位（如电池整个使用寿命内提供的 1 kWh 能量）取决于本研究之外的使用阶段参数。",
    ),
    "boundary": ("Boundary", "边界"),
    "stage": ("Life-cycle stage", "生命周期阶段"),
    "included": ("included", "包含"),
    "excluded": ("excluded", "不包含"),
    "not_assessed": ("not assessed", "未评价"),
    "processes": ("Unit processes", "单元过程"),
    "diagram": ("Figure 1: product system and system boundary", "图1：产品系统与系统边界"),
    "cutoff_total": ("Cut-off: total exempted share allowed", "取舍：允许的排除总比例"),
    "cutoff_flow": ("Cut-off: per flow", "取舍：单项流"),
    "exempted": ("Exempted emissions", "被排除的排放"),
    "within": ("within the threshold", "在阈值以内"),
    "beyond": ("beyond the threshold", "超过阈值"),
    "none": ("none", "无"),
    "input": ("Input", "输入"),
    "process": ("Process", "过程"),
    "amount": ("Amount per declared unit", "每声明单位用量"),
    "source": ("Source", "来源"),
    "factor": ("Factor / declaration", "因子 / 声明"),
    "share": ("Share", "占比"),
    "src_supplier": ("supplier declaration (verified)", "供应商声明（已验证）"),
    "src_default": ("default factor", "默认因子"),
    "src_inline": ("inventory factor", "清单内因子"),
    "src_grid": ("grid electricity", "电网电力"),
    "src_primary": ("primary (own activity)", "初级数据（自有活动）"),
    "dqr": ("Data quality rating (DQR, 1 best to 5 worst)", "数据质量评级（DQR，1 最好至 5 最差）"),
    "dqr_technological": ("technological", "技术代表性"),
    "dqr_temporal": ("temporal", "时间代表性"),
    "dqr_geographical": ("geographical", "地理代表性"),
    "dqr_completeness": ("completeness", "完整性"),
    "dqr_reliability": ("reliability", "可靠性"),
    "dqr_overall": ("overall DQR", "综合 DQR"),
    "dqr_coverage": ("coverage", "覆盖率"),
    "method": ("Method", "方法"),
    "alloc_none": ("No multi-output process: no allocation required.", "无多产出过程：无需分配。"),
    "alloc_ladder": (
        "Allocation hierarchy of the rule set (ISO 14044 6.4.6, GB/T 24067-2024): the first rung that applies",
        "核算规则的分配顺序（ISO 14044 6.4.6，GB/T 24067-2024）：采用第一个适用的方法",
    ),
    "alloc_shares": ("Shares", "分配比例"),
    "reason": ("Justification", "理由"),
    "elec_method": ("Method used", "采用的方法"),
    "elec_location": ("location-based", "基于位置"),
    "elec_market": ("market-based", "基于市场"),
    "elec_market_allowed": ("Market-based method allowed by the rule set", "核算规则允许基于市场的方法"),
    "elec_grid_kwh": ("Purchased grid electricity per declared unit", "每声明单位外购电网电力"),
    "elec_location_total": ("Total, location-based", "总量（基于位置）"),
    "elec_market_total": ("Total, market-based", "总量（基于市场）"),
    "elec_location_part": ("Electricity, location-based", "电力（基于位置）"),
    "elec_market_part": ("Electricity, market-based", "电力（基于市场）"),
    "elec_grid_factor": ("Grid factor", "电网因子"),
    "elec_residual_factor": ("Residual mix factor", "剩余电力因子"),
    "elec_instruments": ("Contractual instruments", "合同工具（绿证等）"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "gwp_set": ("GWP set", "GWP 数据集"),
    "gwp_text": ("IPCC {gwp}, 100-year global warming potentials", "IPCC {gwp}，100 年全球增温潜势"),
    "gas": ("Gas", "气体"),
    "origin": ("Origin", "来源类别"),
    "mass": ("Mass", "质量"),
    "gwp": ("GWP100", "GWP100"),
    "co2e_given": ("given as CO2e", "以 CO2e 给出"),
    "total": ("Carbon footprint (excluding biogenic uptake)", "产品碳足迹（不含生物源碳吸收）"),
    "total_incl": ("Including biogenic uptake", "含生物源碳吸收"),
    "fossil": ("Fossil GHG emissions (incl. aircraft)", "化石源温室气体排放（含航空）"),
    "biogenic": ("Biogenic GHG emissions", "生物源温室气体排放"),
    "uptake": ("Biogenic CO2 uptake", "生物源 CO2 吸收"),
    "dluc": ("Direct land-use change (dLUC)", "直接土地利用变化（dLUC）"),
    "aircraft": ("Aircraft emissions", "航空运输排放"),
    "credits": ("Substitution credits (included above)", "替代抵扣（已计入上述数值）"),
    "by_stage": ("By life-cycle stage", "按生命周期阶段"),
    "by_gas": ("By greenhouse gas", "按温室气体"),
    "by_process": ("By unit process", "按单元过程"),
    "chart_stage": ("Figure 2: contribution by life-cycle stage", "图2：各生命周期阶段贡献"),
    "chart_gas": ("Figure 3: contribution by greenhouse gas", "图3：各温室气体贡献"),
    "chart_input": ("Figure 4: largest inputs", "图4：主要输入贡献"),
    "mc": ("Monte Carlo simulation", "蒙特卡罗模拟"),
    "mc_runs": ("runs", "次数"),
    "mc_range": ("95 % range (2.5th to 97.5th percentile)", "95% 区间（第 2.5 至 97.5 百分位）"),
    "mc_mean": ("mean", "均值"),
    "mc_sd": ("standard deviation", "标准差"),
    "mc_none": (
        "Not computed: no Monte Carlo run is stored with this result.",
        "未计算：该结果未存储蒙特卡罗模拟。",
    ),
    "sensitivity": ("Sensitivity", "敏感性"),
    "sens_case": ("Case", "情景"),
    "sens_result": ("Result", "结果"),
    "sens_change": ("Change", "变化"),
    "sens_electricity": ("Electricity modelled {method}", "电力按{method}核算"),
    "sens_factor": ("Factor of '{flow}' +10 %", "“{flow}”的因子 +10%"),
    "pds": ("Primary data share (PACT method)", "初级数据比例（PACT 方法）"),
    "default_share": (
        "Share of the footprint on secondary factors (defaults, inventory factors)",
        "采用次级因子（默认因子、清单因子）的碳足迹比例",
    ),
    "supplier_inputs": ("Inputs on verified supplier values", "采用经验证供应商数据的输入"),
    "supplier_none": ("No input uses a supplier value.", "没有输入采用供应商数据。"),
    "supplier": ("Supplier", "供应商"),
    "declaration_id": ("Declaration id", "声明编号"),
    "receipt": ("Verification receipt", "验证回执"),
    "receipt_text": (
        "key {key}, trust registry v{version}, verified {at}",
        "密钥 {key}，信任注册表 v{version}，验证于 {at}",
    ),
    "supplier_pds": ("Supplier's primary data share", "供应商初级数据比例"),
    "defaults_named": ("Supplier-named inputs still on defaults", "仍采用默认因子的指定供应商输入"),
    "lim_partial": (
        "Cradle-to-gate: stages after the factory gate ({stages}) are outside the boundary.",
        "从摇篮到大门：工厂大门之后的阶段（{stages}）不在边界之内。",
    ),
    "lim_defaults": (
        "{share} % of the footprint rests on secondary factors, not on supplier-specific data.",
        "{share}% 的碳足迹基于次级因子，而非供应商特定数据。",
    ),
    "lim_rule": (
        "The product rule set was not verified against the group standard's text.",
        "产品核算规则未经团体标准原文核对。",
    ),
    "lim_no_mc": ("No quantitative uncertainty range was computed.", "未计算定量的不确定性区间。"),
    "lim_cutoff": ("Emissions exempted by the cut-off: {share} %.", "取舍准则排除的排放：{share}%。"),
    "lim_gwp": (
        "Only climate change is assessed (a single impact category).",
        "仅评价气候变化（单一影响类别）。",
    ),
    "lim_warning": ("Calculation note: {text}", "计算说明：{text}"),
    "decl_issuer": ("Issuer (DID)", "签发方（DID）"),
    "decl_valid": ("Valid", "有效期"),
    "decl_state": ("Status", "状态"),
    "decl_verification": ("Verification", "验证"),
    "decl_verified": (
        "signature, signer and status verified against trust registry v{version} at {at}",
        "签名、签发方与状态已依据信任注册表 v{version} 于 {at} 验证",
    ),
    "decl_failed": ("verification failed: {reason}: {detail}", "验证失败：{reason}：{detail}"),
    "decl_unchecked": ("not verified here: {detail}", "未在此验证：{detail}"),
    "decl_none": (
        "The result has not been declared: no declaration id, not for disclosure.",
        "该结果尚未声明：无声明编号，不可对外披露。",
    ),
    "decl_assured": ("Assured by", "保证方"),
    "verify_where": ("Verify", "验证方式"),
    "verify_cli": (
        "pcfx verify DECLARATION.json --registry <trust registry>",
        "pcfx verify 声明文件.json --registry <信任注册表>",
    ),
    "result_id": ("Result", "计算结果"),
    "computed_at": ("computed", "计算于"),
    "gate": ("Product at factory gate", "出厂产品"),
    "purchased": ("Purchased inputs", "外购输入"),
    "outputs_other": ("Other outputs", "其他产出"),
    "more": ("+{n} more", "另有 {n} 项"),
    "supplier_mark": ("[S] verified supplier value", "[S] 经验证的供应商数据"),
    "outside": ("outside the boundary", "边界之外"),
    "boundary_label": ("System boundary: {boundary}", "系统边界：{boundary}"),
    "kg_per_unit": ("kg CO2e per {unit}", "kg CO2e / {unit}"),
}

_INDEX = {"en": 0, "zh": 1}

# Terms that come from the data (boundary types): shown in Chinese where known, else as they are.
_TERMS_ZH = {
    "cradle-to-gate": "从摇篮到大门",
    "cradle-to-grave": "从摇篮到坟墓",
    "gate-to-gate": "从大门到大门",
}


def term(lang: Lang, value: str) -> str:
    """A term of the data (e.g. a boundary type) in `lang`."""
    return _TERMS_ZH.get(value, value) if lang == "zh" else value


#: key -> (English, Chinese), placeholders in str.format names: the shape of every catalogue of pcfx's words.
Catalogue = Mapping[str, tuple[str, str]]


def catalogue_translator(
    catalogues: Sequence[Catalogue], lang: Lang, *, missing_shows_key: bool = False
) -> Callable[..., str]:
    """`t(key, **values)`: the string of `key` in `lang` from the first of `catalogues` that has it, formatted
    with `values`. An unknown key is a KeyError, or shows itself with `missing_shows_key` (a page shows a
    missing word rather than failing)."""
    index = _INDEX[lang]

    def t(name: str, /, **values: object) -> str:
        pair = next((book[name] for book in catalogues if name in book), None)
        if pair is None:
            if missing_shows_key:
                return name
            raise KeyError(name)
        text = pair[index]
        return text.format(**values) if values else text

    return t


def translator(lang: Lang, *first: Catalogue) -> Callable[..., str]:
    """`t(key, **values)` of the report's catalogue in `lang`; `first`: catalogues looked up before it."""
    return catalogue_translator((*first, _CATALOGUE), lang)
