"""The web app's words in English and Chinese, and the language a person chose (a cookie; else the browser's
Accept-Language)."""

from __future__ import annotations

from collections.abc import Callable

from pcfx.node.reports.i18n import LANGS, Catalogue, Lang, catalogue_translator

__all__ = ["LANG_COOKIE", "choose_lang", "ui_translator"]

LANG_COOKIE = "pcfx_lang"

# key -> (English, Chinese); placeholders use str.format names
_UI: Catalogue = {
    "app": ("pcfx node", "pcfx 节点"),
    "nav_products": ("Products", "产品"),
    "nav_suppliers": ("Suppliers", "供应商"),
    "nav_inbox": ("Inbox", "待办"),
    "nav_provenance": ("Provenance", "溯源"),
    "sign_out": ("Sign out", "退出"),
    "lang_switch": ("中文", "English"),
    # sign-in
    "login_title": ("Sign in", "登录"),
    "login_help": (
        "Paste the node's admin token (shown once by `pcfx init` or `pcfx admin token --rotate`).",
        "请粘贴节点的管理令牌（由 `pcfx init` 或 `pcfx admin token --rotate` 显示一次）。",
    ),
    "login_token": ("Admin token", "管理令牌"),
    "login_submit": ("Sign in", "登录"),
    "login_failed": ("That is not this node's admin token.", "该令牌不是本节点的管理令牌。"),
    "session_expired": ("Your session ended; sign in again.", "会话已结束，请重新登录。"),
    "csrf_failed": (
        "The form was stale or not sent from this page; nothing was changed. Try again.",
        "表单已过期或并非来自本页面，未做任何更改。请重试。",
    ),
    # products
    "products_title": ("Own products", "本企业产品"),
    "no_products": ("No product yet: upload an inventory below.", "尚无产品：请在下方上传清单。"),
    "col_product": ("Product", "产品"),
    "col_rule": ("Rule set", "核算规则"),
    "col_total": ("Footprint", "碳足迹"),
    "col_unit": ("Declared unit", "声明单位"),
    "col_declared": ("Declaration", "声明"),
    "col_state": ("State", "状态"),
    "col_pds": ("Primary data share", "初级数据比例"),
    "col_dqr": ("DQR", "数据质量评级"),
    "not_declared": ("not declared", "未声明"),
    "not_computed": ("not computed", "未计算"),
    "upload_title": ("Upload an inventory", "上传清单"),
    "upload_help": (
        "An inventory from `pcfx template` (xlsx, yaml, json or csv): the product is added or replaced.",
        "由 `pcfx template` 生成的清单（xlsx、yaml、json 或 csv）：新增或替换该产品。",
    ),
    "upload_submit": ("Upload", "上传"),
    "upload_failed": ("The inventory was not stored:", "清单未保存："),
    "upload_nothing": ("Nothing already stored was changed.", "已存储的数据均未更改。"),
    "uploaded": (
        "Stored {product}; following {count} supplier product(s).",
        "已保存 {product}；关注 {count} 个供应商产品。",
    ),
    # product page
    "stages": ("By life-cycle stage", "按生命周期阶段"),
    "contributions": ("Largest contributions", "主要贡献"),
    "by_process": ("By process", "按过程"),
    "by_input": ("By input", "按输入"),
    "by_gas": ("By gas", "按温室气体"),
    "split": ("Fossil, biogenic and land-use change", "化石、生物源与土地利用变化"),
    "fossil": ("fossil", "化石"),
    "biogenic": ("biogenic", "生物源"),
    "dluc": ("direct land-use change", "直接土地利用变化"),
    "aircraft": ("aircraft", "航空"),
    "uncertainty": ("Uncertainty (95 % interval)", "不确定性（95% 区间）"),
    "no_uncertainty": ("not assessed", "未评估"),
    "quality": ("Data quality", "数据质量"),
    "history": ("Declarations", "声明历史"),
    "col_id": ("Declaration id", "声明编号"),
    "col_version": ("Version", "版本"),
    "col_created": ("Created", "创建时间"),
    "col_value": ("Value", "数值"),
    "col_actions": ("Actions", "操作"),
    "declare": ("Declare", "声明"),
    "declare_confirm": (
        "Compute with the suppliers' current verified values, sign and publish a new declaration of {product}? "
        "The previous one becomes Deprecated.",
        "使用供应商当前已验证的数据计算 {product}，签名并发布新声明？上一版本将标记为已弃用。",
    ),
    "revoke": ("Revoke", "撤销"),
    "revoke_confirm": (
        "Revoke declaration {id} for good? Buyers stop using it.",
        "永久撤销声明 {id}？买方将停止使用。",
    ),
    "deprecate": ("Deprecate", "弃用"),
    "deprecate_confirm": ("Mark declaration {id} deprecated?", "将声明 {id} 标记为已弃用？"),
    "confirm": ("Confirm", "确认"),
    "cancel": ("Cancel", "取消"),
    "declared_msg": (
        "Declared {product}: {total} kg CO2e, declaration {id}.",
        "已声明 {product}：{total} kg CO2e，声明 {id}。",
    ),
    "status_msg": ("{id} is now {state}.", "{id} 现为 {state}。"),
    "report": ("CFP study report", "碳足迹研究报告"),
    "report_pdf": ("PDF", "PDF"),
    "report_html": ("HTML", "HTML"),
    "battery": ("EU battery carbon-footprint declaration", "欧盟电池碳足迹声明"),
    "trace": ("Provenance tree", "溯源树"),
    "battery_intro": (
        "Regulation (EU) 2023/1542 Art. 7 and Annex II: kg CO2e per kWh of the total energy the battery provides "
        "over its expected service life (E_total = usable energy x cycles per year x years), from the verified "
        "declaration below.",
        "欧盟电池法规 (EU) 2023/1542 第 7 条及附件 II：每千瓦时电池预期使用寿命内提供的总能量的碳足迹"
        "（E_total = 可用能量 × 每年循环次数 × 年数），基于下列已验证的声明计算。",
    ),
    "usable_energy": ("Usable energy of one battery, kWh", "单个电池可用能量（kWh）"),
    "cycles_per_year": ("Full-equivalent cycles per year", "每年等效满充放循环次数"),
    "service_life_years": ("Expected service life, years", "预期使用寿命（年）"),
    "lifetime_energy": ("Or: total energy over the service life, kWh", "或：使用寿命内总能量（kWh）"),
    "study_url": ("Web link to the public CFP study", "公开碳足迹研究报告的网址"),
    "conformity_id": ("EU declaration of conformity id (optional)", "欧盟符合性声明编号（可选）"),
    "compute": ("Compute", "计算"),
    "download_json": ("Download JSON (BatteryPass)", "下载 JSON（BatteryPass）"),
    "per_kwh": ("kg CO2e per kWh of lifetime energy", "kg CO2e / 千瓦时（寿命期总能量）"),
    "performance_class": ("Performance class", "碳足迹性能等级"),
    "annex_stage": ("Life-cycle stage (Annex II)", "生命周期阶段（附件 II）"),
    "inputs": ("Purchased inputs", "外购输入"),
    "col_input": ("Input", "输入"),
    "col_source": ("Value used", "采用的数值"),
    "col_why": ("Why", "原因"),
    "supplier_value": ("supplier declaration", "供应商声明"),
    "default_value": ("default factor", "默认因子"),
    # suppliers
    "suppliers_title": ("Supplier coverage", "供应商数据覆盖"),
    "on_defaults": (
        "{share} of the total footprint of all products still rests on default factors.",
        "全部产品碳足迹总量中仍有 {share} 基于默认因子。",
    ),
    "on_defaults_short": ("of the footprint on default factors", "的碳足迹基于默认因子"),
    "legend_verified": ("verified supplier values", "已验证的供应商数据"),
    "legend_defaults": ("defaults (supplier named)", "默认因子（已指定供应商）"),
    "legend_rest": ("own processes and other inputs", "自有过程及其他输入"),
    "inputs_on_defaults": (
        "{n} of {total} supplier inputs on defaults",
        "{total} 个供应商输入中 {n} 个基于默认因子",
    ),
    "col_supplier": ("Supplier", "供应商"),
    "col_status": ("Status", "状态"),
    "col_share": ("Share of product", "占产品比例"),
    "request_data": ("Request data", "请求数据"),
    "request_help": (
        "Asks the supplier's node over the bus for its latest declaration now; what comes back is verified "
        "before it is used.",
        "通过消息总线立即向供应商节点索取其最新声明；返回的声明经验证后才会使用。",
    ),
    "requested_stored": (
        "Received and verified the latest declaration of {product}.",
        "已收到并验证 {product} 的最新声明。",
    ),
    "requested_duplicate": (
        "The latest declaration of {product} was already here.",
        "{product} 的最新声明已在本节点。",
    ),
    "requested_none": (
        "The supplier has published no declaration of {product} yet.",
        "供应商尚未发布 {product} 的声明。",
    ),
    "requested_quarantined": ("The answer was refused: {outcome}", "答复被拒收：{outcome}"),
    "requested_retry": ("No usable answer yet: {outcome}", "暂无可用答复：{outcome}"),
    "why_not_in_registry": ("supplier not in the trust registry", "供应商不在信任登记册中"),
    "why_not_published": ("not published yet", "尚未发布"),
    "why_rejected": ("rejected", "已拒收"),
    "why_stale": ("stale", "已过期"),
    "why_no_supplier": ("no supplier named", "未指定供应商"),
    "verified": ("verified", "已验证"),
    # inbox
    "inbox_title": ("Inbox", "待办"),
    "held_title": ("Recomputations waiting for approval", "待批准的重新计算"),
    "no_held": ("Nothing waits for approval.", "没有待批准的结果。"),
    "before": ("before", "之前"),
    "after": ("after", "之后"),
    "caused_by": ("caused by", "起因"),
    "approve": ("Approve and publish", "批准并发布"),
    "dismiss": ("Dismiss", "忽略"),
    "approved_msg": ("Approved result #{id}: declaration {decl}.", "已批准结果 #{id}：声明 {decl}。"),
    "dismissed_msg": ("Dismissed result #{id}.", "已忽略结果 #{id}。"),
    "revisions_title": ("Supplier declarations received", "收到的供应商声明"),
    "quarantine_title": ("Rejected messages (quarantine)", "拒收的消息（隔离区）"),
    "col_reason": ("Reason", "原因"),
    "col_count": ("Times", "次数"),
    "col_received": ("Received", "接收时间"),
    "col_issuer": ("Issuer", "发布方"),
    "nothing": ("Nothing.", "无。"),
    # provenance
    "provenance_title": ("Provenance of {id}", "{id} 的溯源"),
    "provenance_summary": (
        "{tiers} tier(s) of verified declarations; {verified} verified, {failed} failed, {defaults} input(s) on "
        "default factors, {restricted} restricted, {unavailable} unavailable.",
        "{tiers} 级已验证声明；{verified} 个验证通过，{failed} 个验证失败，{defaults} 个输入使用默认因子，"
        "{restricted} 个受限，{unavailable} 个不可获取。",
    ),
    "unavailable": ("not available to this node", "本节点无法获取"),
    "cut": ("branch ends here", "分支到此为止"),
    "share_of_above": ("share of the tier above", "占上一级比例"),
    "provenance_pick": ("Declaration id", "声明编号"),
    "provenance_show": ("Show", "显示"),
    "tier": ("tier {n}", "第 {n} 级"),
    "restricted": (
        "restricted to other buyers: exists, issued by {issuer}, verified by the tier above",
        "仅限其他买方：该声明存在，由 {issuer} 发布，已由上一级验证",
    ),
    "default_leaf": ("default factor {factor}: {reason}", "默认因子 {factor}：{reason}"),
    "default_leaf_plain": ("default factor {factor}", "默认因子 {factor}"),
    "verification_failed": ("verification failed: {reason}", "验证失败：{reason}"),
    "unknown_declaration": ("No declaration {id} is known to this node.", "本节点不知道声明 {id}。"),
    "error": ("Error", "错误"),
}


def ui_translator(lang: Lang) -> Callable[..., str]:
    """`t(key, **values)` in `lang`; an unknown key shows itself (a missing word is visible, never blank)."""
    return catalogue_translator((_UI,), lang, missing_shows_key=True)


def choose_lang(cookie: str | None, accept_language: str | None) -> Lang:
    """The person's chosen language (cookie), else Chinese when the browser prefers it, else English."""
    if cookie in LANGS:
        return "zh" if cookie == "zh" else "en"
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"
