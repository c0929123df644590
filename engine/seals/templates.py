"""Document templates that can be sealed, keyed by the BPMN ``seal`` property's value.

A user task marked ``<camunda:property name="seal" value="supply_approval" />`` renders the
instance as the template's document and signs it into the template's first slot when the
task is completed. Each later slot names the user task (``element``) whose completion
adds an incremental signature (by the organisation's system signer, on behalf of the user
who completed it); its field is created empty together with the seal, so the later
signature keeps the seal valid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    name: str  # PDF signature field name
    label: str  # printed above the box
    data_key: str  # instance data key that receives the signed document's id
    element: str | None = None  # later slots: the user task that signs it
    roles: tuple[str, ...] = ("service_center_head",)
    reason: str = ""


@dataclass(frozen=True)
class Box:
    """A box of the paper form's signer grid (申请人 / 审核意见 / 审批意见 ...).

    ``source`` is ``"start"`` (the applicant), ``"seal"`` (the head applying the seal: the
    seal's slot is drawn in it) or the element id of a user task (its last completion's
    signer and date; ``opinion_keys`` of its submission make the opinion). ``slot`` names a
    later slot whose signature box is drawn in this box."""

    label: str
    source: str
    opinion_keys: tuple[str, ...] = ()
    opinion: str = ""  # shown when the step has no opinion (yet)
    slot: str | None = None


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    subtitle: str
    filename: str
    intro: str
    slots: tuple[Slot, ...]
    boxes: tuple[Box, ...] = ()

    @property
    def seal(self) -> Slot:
        return self.slots[0]

    def later(self, element_id: str) -> Slot | None:
        return next((s for s in self.slots[1:] if s.element == element_id), None)


TEMPLATES: dict[str, Template] = {
    "supply_approval": Template(
        key="supply_approval",
        title="卷烟供货审批表",
        subtitle="Supply approval form",
        filename="供货审批表",
        intro="本表由专卖人员提交，经客服中心负责人审核并加盖电子公章后生效；内务信息员维护系统记录后签名确认。",
        slots=(
            Slot("seal", "客服中心负责人（电子公章）", "sealed_document", reason="审核通过，加盖电子公章，审批表生效"),
            Slot("clerk_confirmation", "内务信息员（系统维护确认）", "confirmed_document", element="maintain",
                 roles=("info_clerk",), reason="已维护系统记录"),
        ),
        boxes=(
            Box("申请人\n（经办人）", "start", ("reason",)),
            Box("审核意见", "review", ("decision", "review_comment")),
            Box("审批意见", "seal", opinion="同意。审核通过，加盖电子公章，审批表生效。"),
            Box("系统维护", "maintain", ("system_ref", "maintain_note"), opinion="（内务信息员维护系统记录后签名确认）",
                slot="clerk_confirmation"),
        ),
    ),
    "group_agreement": Template(
        key="group_agreement",
        title="集团客户协议",
        subtitle="Group customer agreement",
        filename="集团客户协议",
        intro="本协议经双方签署后加盖电子公章生效；内务信息员归档后签名确认。",
        slots=(
            Slot("seal", "我方盖章（电子公章）", "sealed_document", reason="协议已签署，加盖电子公章"),
            Slot("archive_confirmation", "内务信息员（归档确认）", "archived_document", element="archive",
                 roles=("info_clerk",), reason="协议已归档"),
        ),
        boxes=(
            Box("经办人", "start"),
            Box("我方签章", "seal", opinion="协议已签署，加盖电子公章。"),
            Box("归档", "archive", opinion="（内务信息员归档后签名确认）", slot="archive_confirmation"),
        ),
    ),
}


def template(key: str) -> Template:
    from engine.errors import Conflict

    try:
        return TEMPLATES[key]
    except KeyError:
        raise Conflict(f"unknown seal template {key!r}; known: {', '.join(sorted(TEMPLATES))}") from None
