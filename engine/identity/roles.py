"""The roles of the domain (DOMAIN.md) with their Chinese and English names."""

from __future__ import annotations

ROLES: dict[str, tuple[str, str]] = {
    "enforcement_officer": ("专卖人员", "Enforcement officer"),
    "service_center_head": ("客服中心负责人", "Service-center head"),
    "info_clerk": ("内务信息员", "Information clerk"),
    "customer_manager": ("客户经理", "Customer manager"),
    "counter_staff": ("营业员", "Counter staff"),
    "duty_manager": ("值班经理", "Duty manager"),
    "hall_manager": ("厅经理", "Hall manager"),
    "key_account_manager": ("重要室经理", "Key-account room manager"),
    # 数据组 (000 篇3/4): each month spot-checks the customer managers' perception (感知度) by calling their customers
    "data_analyst": ("数据组专员", "Data-group analyst"),
    "department_manager": ("部门经理", "Department manager"),
    "vice_president": ("分管副总", "Vice-president"),
    # the tobacco branch (000 精益营销平台): its customer managers visit retailers, a different job from the
    # mobile side's group-customer managers; the back office (后台人员: 市场经理、内务信息员、品牌经理) reviews
    # their visit plans and instructs them on anomaly alerts
    "tobacco_customer_manager": ("烟草客户经理", "Tobacco customer manager"),
    "marketing_back_office": ("营销后台", "Marketing back office"),
    "process_owner": ("流程负责人", "Process owner"),
    "auditor": ("审计", "Auditor"),
    "admin": ("系统管理员", "Administrator"),
    "integration": ("系统集成账号", "Integration service account"),
}

DEPLOYER_ROLES = frozenset({"process_owner", "admin"})
# kinds of org units (bpm_org_unit.kind); a room (室) sits in a department, as the key-account room
# (重要室) in the group customer department (集团客户部), 001 客户经理考核制度
UNIT_KINDS = ("hall", "room", "department", "branch")


def is_known_role(role: str) -> bool:
    return role in ROLES
