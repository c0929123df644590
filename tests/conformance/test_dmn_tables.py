"""DMN decision tables (engine/bpmn/dmn.py): hit policies, S-FEEL unary tests, the deploy checks
and a table as dmn-js / Camunda Modeler exports it. No database: the module is pure."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

from engine.bpmn import dmn
from engine.bpmn.dmn import DecisionError

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def table(
    inputs: list[str],
    outputs: list[str],
    rules: list[tuple[list[str], list[str]]],
    hit_policy: str | None = None,
    aggregation: str | None = None,
    output_values: dict[str, str] | None = None,
    ns: str = DMN13,
    decision_id: str = "d",
) -> str:
    """A one-decision DMN file: input columns by expression (labelled ``In <expr>``), outputs by
    name (labelled ``Out <name>``), rules as (input entries, output entries)."""
    attrs = (f' hitPolicy="{hit_policy}"' if hit_policy else "") + (
        f' aggregation="{aggregation}"' if aggregation else ""
    )
    cols = "".join(
        f'<input id="in{i}" label="In {escape(e)}"><inputExpression id="ie{i}" typeRef="string">'
        f"<text>{escape(e)}</text></inputExpression></input>"
        for i, e in enumerate(inputs, 1)
    )
    for i, name in enumerate(outputs, 1):
        values = (output_values or {}).get(name)
        values_xml = f"<outputValues><text>{escape(values)}</text></outputValues>" if values else ""
        cols += f'<output id="out{i}" label="Out {name}" name="{name}" typeRef="string">{values_xml}</output>'
    body = "".join(
        f'<rule id="r{n}">'
        + "".join(f"<inputEntry><text>{escape(e)}</text></inputEntry>" for e in ins)
        + "".join(f"<outputEntry><text>{escape(e)}</text></outputEntry>" for e in outs)
        + "</rule>"
        for n, (ins, outs) in enumerate(rules, 1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="{ns}" id="defs" name="D" namespace="x">'
        f'<decision id="{decision_id}" name="Decide"><decisionTable id="t"{attrs}>{cols}{body}'
        "</decisionTable></decision></definitions>"
    )


def decide(xml: str, data: dict) -> dmn.Result:
    (decision,) = dmn.parse(xml.encode())
    return dmn.evaluate(decision, data)


def matches(entry: str, value, data: dict | None = None) -> bool:
    """Whether one input entry matches ``value`` (the column ``x``)."""
    xml = table(["x"], ["hit"], [([entry], ["true"])], hit_policy="FIRST")
    return decide(xml, {"x": value, **(data or {})}).value == {"hit": True}


GRADES = [(["< 50"], ['"low"']), (["[50..80]"], ['"mid"']), (["> 80"], ['"high"'])]


# --- hit policies ---


def test_unique_returns_the_single_match_or_none():
    xml = table(["score"], ["grade"], GRADES)
    (decision,) = dmn.parse(xml.encode())
    assert decision.hit_policy == "UNIQUE"
    result = dmn.evaluate(decision, {"score": 65})
    assert result.value == {"grade": "mid"}
    assert [r.index for r in result.matched] == [2] and result.outputs == [{"grade": "mid"}]
    assert result.matched[0].id == "r2"
    assert dmn.evaluate(decision, {"score": "x"}).value is None
    assert dmn.evaluate(decision, {"score": "x"}).matched == []


def test_unique_conflict_names_the_rules():
    xml = table(["n"], ["o"], [(["> 1"], ["1"]), (["> 5"], ["2"]), (["< 0"], ["3"]), (["> 3"], ["4"])])
    with pytest.raises(DecisionError) as err:
        decide(xml, {"n": 10})
    assert str(err.value) == "decision 'd' (Decide): hit policy UNIQUE but rules 1, 2 and 4 match"
    assert err.value.rules == (1, 2, 4)
    two = table(["n"], ["o"], [(["< 0"], ["1"]), (["> 5"], ["2"]), (["< 0"], ["3"]), (["> 5"], ["4"])])
    with pytest.raises(DecisionError, match="^decision 'd' \\(Decide\\): hit policy UNIQUE but rules 2 and 4 match$"):
        decide(two, {"n": 6})


def test_first_takes_the_first_match_in_rule_order():
    xml = table(["n"], ["o"], [(["< 0"], ['"neg"']), (["> 5"], ['"big"']), (["-"], ['"any"'])], hit_policy="FIRST")
    result = decide(xml, {"n": 9})
    assert result.value == {"o": "big"}
    assert [r.index for r in result.matched] == [2, 3]
    assert result.outputs == [{"o": "big"}]  # the first only: a later match's outputs are not evaluated
    assert decide(xml, {"n": 1}).value == {"o": "any"}


def test_any_returns_one_of_equal_matches_and_refuses_different_ones():
    xml = table(["n"], ["o"], [(["> 0"], ['"pos"']), (["> 5"], ['"pos"']), (["> 8"], ['"huge"'])], hit_policy="ANY")
    result = decide(xml, {"n": 6})
    assert result.value == {"o": "pos"} and result.outputs == [{"o": "pos"}]
    assert [r.index for r in result.matched] == [1, 2]
    assert decide(xml, {"n": -1}).value is None
    with pytest.raises(DecisionError) as err:
        decide(xml, {"n": 9})
    assert "hit policy ANY but rules 1 and 3 match with different outputs" in str(err.value)
    assert err.value.rules == (1, 3)


def test_priority_ranks_by_output_values_in_column_order():
    rules = [
        (["> 0"], ['"low"', '"b"']),
        (["> 5"], ['"high"', '"a"']),
        (["> 5"], ['"high"', '"c"']),
        (["> 3"], ['"medium"', '"a"']),
    ]
    values = {"level": '"high","medium","low"', "code": '"c","b","a"'}
    xml = table(["n"], ["level", "code"], rules, hit_policy="PRIORITY", output_values=values)
    result = decide(xml, {"n": 9})
    assert result.value == {"level": "high", "code": "c"} and result.outputs == [result.value]
    assert [r.index for r in result.matched] == [1, 2, 3, 4]
    assert decide(xml, {"n": 4}).value == {"level": "medium", "code": "a"}
    assert decide(xml, {"n": 1}).value == {"level": "low", "code": "b"}
    assert decide(xml, {"n": 0}).value is None


def test_priority_ignores_outputs_without_output_values():
    rules = [(["-"], ['"low"', "1"]), (["-"], ['"high"', "2"]), (["-"], ['"high"', "3"])]
    xml = table(["n"], ["level", "n2"], rules, hit_policy="PRIORITY", output_values={"level": '"high","low"'})
    assert decide(xml, {"n": 1}).value == {"level": "high", "n2": 2}  # ties keep rule order


def test_output_order_sorts_all_matches_by_priority():
    rules = [(["-"], ['"low"']), (["> 5"], ['"high"']), (["-"], ['"medium"']), (["> 1"], ['"low"'])]
    xml = table(["n"], ["level"], rules, hit_policy="OUTPUT ORDER", output_values={"level": '"high","medium","low"'})
    result = decide(xml, {"n": 9})
    assert result.value == [{"level": "high"}, {"level": "medium"}, {"level": "low"}, {"level": "low"}]
    assert [r.index for r in result.matched] == [1, 2, 3, 4]
    assert result.outputs == result.value
    assert decide(xml, {"n": 0}).value == [{"level": "medium"}, {"level": "low"}]


def test_rule_order_and_collect_list_all_matches_in_rule_order():
    rules = [(["> 5"], ['"b"']), (["-"], ['"a"']), (["< 0"], ['"c"'])]
    for policy in ("RULE ORDER", "COLLECT"):
        xml = table(["n"], ["o"], rules, hit_policy=policy)
        assert decide(xml, {"n": 9}).value == [{"o": "b"}, {"o": "a"}]
        assert decide(xml, {"n": 1}).value == [{"o": "a"}]
    assert decide(table(["n"], ["o"], [(["< 0"], ["1"])], hit_policy="COLLECT"), {"n": 1}).value == []


@pytest.mark.parametrize(
    ("aggregation", "expected", "none"),
    [("SUM", 12.5, None), ("MIN", 2, None), ("MAX", 7.5, None), ("COUNT", 3, 0)],
)
def test_collect_aggregations(aggregation, expected, none):
    rules = [(["> 0"], ["3"]), (["> 5"], ["7.5"]), (["< 0"], ["100"]), (["-"], ["2"]), (["-"], [""])]
    xml = table(["n"], ["fee"], rules[:4], hit_policy="COLLECT", aggregation=aggregation)
    result = decide(xml, {"n": 9})
    assert result.value == expected
    assert result.outputs == [{"fee": 3}, {"fee": 7.5}, {"fee": 2}]
    empty = table(["n"], ["fee"], [(["< 0"], ["1"])], hit_policy="COLLECT", aggregation=aggregation)
    assert decide(empty, {"n": 9}).value == none
    with_null = table(["n"], ["fee"], rules, hit_policy="COLLECT", aggregation=aggregation)
    assert decide(with_null, {"n": 9}).value == (4 if aggregation == "COUNT" else expected)


def test_collect_sum_of_strings_names_the_rule():
    xml = table(["n"], ["fee"], [(["-"], ["1"]), (["-"], ['"two"'])], hit_policy="COLLECT", aggregation="SUM")
    with pytest.raises(DecisionError, match="rule 2 gives 'two'") as err:
        decide(xml, {"n": 1})
    assert err.value.rules == (2,)


def test_collect_min_max_of_strings():
    rules = [(["-"], ['"b"']), (["-"], ['"a"']), (["-"], ['"c"'])]
    assert decide(table(["n"], ["o"], rules, hit_policy="COLLECT", aggregation="MIN"), {}).value == "a"
    assert decide(table(["n"], ["o"], rules, hit_policy="COLLECT", aggregation="MAX"), {}).value == "c"


# --- S-FEEL unary tests ---


@pytest.mark.parametrize(
    ("entry", "value", "expected"),
    [
        ("", 1, True),
        ("-", None, True),
        ("5", 5, True),
        ("5", 5.0, True),
        ("5", 6, False),
        ("-5", -5, True),
        ("2.5", 2.5, True),
        ('"a"', "a", True),
        ('"a"', "b", False),
        ("true", True, True),
        ("true", 1, False),
        ("false", False, True),
        ("null", None, True),
        ("null", 0, False),
        ("< 5", 4, True),
        ("< 5", 5, False),
        ("<= 5", 5, True),
        ("> 5", 5, False),
        (">= 5", 5, True),
        ("<-1", -2, True),
        ('< "m"', "b", True),
        ("[1..5]", 1, True),
        ("[1..5]", 5, True),
        ("]1..5]", 1, False),
        ("]1..5]", 5, True),
        ("[1..5[", 5, False),
        ("[1..5[", 1, True),
        ("(1..5)", 1, False),
        ("(1..5)", 5, False),
        ("(1..5)", 3, True),
        ("]1..5[", 1.0001, True),
        ("[1.5..2.5]", 2, True),
        ("[-3..-1]", -2, True),
        ('["2024-01-01".."2024-12-31"]', "2024-06-30", True),
        ('["2024-01-01".."2024-12-31"]', "2025-01-01", False),
        ('[date("2024-01-01")..date("2024-12-31")]', "2024-03-01", True),
        ('< date and time("2024-01-01T00:00:00")', "2023-12-31T23:00:00", True),
        ("1, 3, 5", 3, True),
        ("1, 3, 5", 4, False),
        ("< 0, > 10", 11, True),
        ("< 0, [2..3], > 10", 2.5, True),
        ('"a,b", "c"', "a,b", True),
        ('"a,b", "c"', "a", False),
        ('"say \\"hi\\""', 'say "hi"', True),
        ('not("a")', "b", True),
        ('not("a")', "a", False),
        ('not("a", "b")', "b", False),
        ("not(< 5)", 7, True),
        ("not([1..5])", 3, False),
        ("not(null)", None, False),
        ("not(null)", 0, True),
    ],
)
def test_unary_tests(entry, value, expected):
    assert matches(entry, value) is expected


@pytest.mark.parametrize(
    ("entry", "value"),
    [("< 5", None), ("< 5", "3"), ("> 5", "10"), ("[1..5]", "3"), ("[1..5]", None), ("5", "5"), ('"5"', 5),
     ("not(< 5)", None), ("not(< 5)", "x"), ('not("a")', 1), ("< 5", True), ("[a..b]", 3)],
)  # fmt: skip
def test_type_mismatch_or_missing_is_no_match(entry, value):
    assert matches(entry, value) is False


def test_missing_input_is_none_and_does_not_match_comparisons():
    xml = table(["x"], ["hit"], [(["> 5"], ["1"]), (["null"], ["2"]), (["-"], ["3"])], hit_policy="COLLECT")
    assert decide(xml, {}).value == [{"hit": 2}, {"hit": 3}]


def test_variable_and_path_endpoints():
    data = {"limit": 10, "policy": {"low": 1, "high": 5}, "name": "bob"}
    assert matches("< limit", 9, data) and not matches("< limit", 10, data)
    assert matches("[policy.low..policy.high]", 5, data)
    assert not matches("]policy.low..policy.high]", 1, data)
    assert matches("name", "bob", data) and matches('not(name, "x")', "amy", data)
    assert not matches("< missing", 1, data) and not matches("< policy.missing", 1, data)


def test_input_expressions_paths_literals_and_expressions():
    rules = [(["> 2", '"gold"', "true", "> 100"], ['"yes"'])]
    xml = table(["customer.level", "customer.tier", "flag", "amount * 2"], ["o"], rules)
    data = {"customer": {"level": 3, "tier": "gold"}, "flag": True, "amount": 60}
    assert decide(xml, data).value == {"o": "yes"}
    assert decide(xml, {**data, "customer": "not a dict"}).value is None  # a path through a non-dict is None
    with pytest.raises(DecisionError, match=r"input 'In amount \* 2': name 'amount' is not defined"):
        decide(xml, {"customer": {}})
    assert decide(table(["null"], ["o"], [(["null"], ["1"])]), {}).value == {"o": 1}
    (decision,) = dmn.parse(xml.encode())
    assert [dmn.input_value(column, {"customer": {"level": 1}}) for column in decision.inputs[:3]] == [1, None, None]


def test_output_entries_are_engine_expressions():
    rules = [(["-"], ["amount * 2", "customer.name", "null", "", "false", '{"a": [1, 2]}', "-1.5"])]
    xml = table(["amount"], ["a", "b", "c", "d", "e", "f", "g"], rules)
    value = decide(xml, {"amount": 4, "customer": {"name": "Li"}}).value
    assert value == {"a": 8, "b": "Li", "c": None, "d": None, "e": False, "f": {"a": [1, 2]}, "g": -1.5}
    value["f"]["a"].append(3)  # a result is the caller's: the next one is not changed by it
    assert decide(xml, {"amount": 4, "customer": {}}).value["f"] == {"a": [1, 2]}
    with pytest.raises(DecisionError, match=r"rule 1, output 'Out a': name 'amount' is not defined") as err:
        decide(table(["x"], ["a"], [(["-"], ["amount"])]), {})
    assert err.value.rules == (1,)


def test_zero_inputs_always_match():
    xml = table([], ["o"], [([], ['"only"'])])
    assert decide(xml, {}).value == {"o": "only"}


def test_fifty_rules_pick_the_one_that_matches():
    rules = [([f"[{i * 10}..{i * 10 + 9}]", f'"c{i}", "x"', "-"], [f'"r{i}"', str(i)]) for i in range(50)]
    xml = table(["n", "cat", "other"], ["name", "num"], rules)
    (decision,) = dmn.parse(xml.encode())
    data = {"n": 455, "cat": "c45", "other": 1}
    assert dmn.evaluate(decision, data).value == {"name": "r45", "num": 45}
    assert [r.index for r in dmn.evaluate(decision, {**data, "n": 7, "cat": "x"}).matched] == [1]


# --- deploy checks ---


def errors(xml: str) -> list[dict]:
    return dmn.validate(xml.encode())


def test_valid_table_has_no_errors():
    assert errors(table(["score"], ["grade"], GRADES)) == []


def test_bad_cell_names_the_rule_row_and_column():
    xml = table(["score", "kind"], ["grade"], [(["< 5", '"a"'], ['"x"']), (["-", ">>> 5"], ['"y"'])])
    (err,) = errors(xml)
    assert err["element_id"] == "r2"
    assert err["message"].startswith("decision 'd' (Decide): rule 2, input 'In kind': '>>> 5' is not a unary test")
    with pytest.raises(DecisionError, match="rule 2, input 'In kind'"):
        dmn.parse(xml.encode())


@pytest.mark.parametrize(
    "entry", ["[1..5", "[1 5]", "< ", '"open', "not(1", "1,", "5 6", "<> 1", "x + 1", "not 1", "== 5"]
)
def test_bad_unary_tests_are_refused(entry):
    (err,) = errors(table(["x"], ["o"], [([entry], ["1"])]))
    assert "rule 1, input 'In x'" in err["message"] and "is not a unary test" in err["message"]


def test_bad_output_entry_and_input_expression():
    xml = table(["__class__", "x"], ["o"], [(["-", "-"], ["open('f')"])])
    found = errors(xml)
    assert [e["element_id"] for e in found] == ["in1", "r1"]
    assert found[0]["message"].startswith("decision 'd' (Decide): input 'In __class__'")
    assert found[1]["message"] == (
        "decision 'd' (Decide): rule 1, output 'Out o': \"open('f')\": name 'open' is not allowed"
    )
    (err,) = errors(table(["x"], ["o"], [(["-"], ["1 +"])]))
    assert "rule 1, output 'Out o'" in err["message"] and "syntax error" in err["message"]


def test_wrong_entry_count():
    xml = table(["a", "b"], ["o"], [(["1", "2"], ["1"]), (["1"], ["2"]), (["1", "2"], ["1", "2"])])
    found = errors(xml)
    assert [e["element_id"] for e in found] == ["r2", "r3"]
    assert found[0]["message"] == (
        "decision 'd' (Decide): rule 2 has 1 input and 1 output entries, the table has 2 inputs and 1 outputs"
    )


def test_aggregation_rules():
    two = errors(table(["n"], ["a", "b"], [(["-"], ["1", "2"])], hit_policy="COLLECT", aggregation="SUM"))
    assert [e["message"] for e in two] == [
        "decision 'd' (Decide): COLLECT SUM needs exactly one output, the table has 2"
    ]
    (first,) = errors(table(["n"], ["a"], [(["-"], ["1"])], hit_policy="FIRST", aggregation="SUM"))
    assert "only allowed with hit policy COLLECT" in first["message"]
    (avg,) = errors(table(["n"], ["a"], [(["-"], ["1"])], hit_policy="COLLECT", aggregation="AVG"))
    assert "unknown aggregation 'AVG'" in avg["message"]


def test_unknown_hit_policy():
    (err,) = errors(table(["n"], ["a"], [(["-"], ["1"])], hit_policy="SOMETIMES"))
    assert err["element_id"] == "d"
    assert err["message"].startswith("decision 'd' (Decide): unknown hit policy 'SOMETIMES'")


def test_priority_needs_output_values():
    (err,) = errors(table(["n"], ["a"], [(["-"], ["1"])], hit_policy="PRIORITY"))
    assert "hit policy PRIORITY needs the output values" in err["message"]
    (bad,) = errors(table(["n"], ["a"], [(["-"], ["1"])], hit_policy="FIRST", output_values={"a": "x, 1"}))
    assert "output 'Out a': output values 'x, 1'" in bad["message"]


def test_malformed_xml_names_the_line():
    (err,) = errors('<?xml version="1.0"?>\n<definitions xmlns="x">\n<decision>\n</definitions>')
    assert err["element_id"] is None
    assert err["message"].startswith("the DMN file is not well-formed XML: line 4")
    with pytest.raises(DecisionError, match="not well-formed"):
        dmn.parse(b"<definitions")


def test_not_dmn_no_table_other_logic_and_duplicate_ids():
    (err,) = errors('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>')
    assert "not a DMN 1.1-1.3 file" in err["message"]
    (err,) = errors(f'<definitions xmlns="{DMN13}" id="defs"/>')
    assert err == {"element_id": "defs", "message": "the DMN file has no decision table"}
    literal = (
        f'<definitions xmlns="{DMN13}" id="defs"><decision id="lit" name="Lit"><variable name="v"/>'
        "<literalExpression><text>1</text></literalExpression></decision></definitions>"
    )
    (err,) = errors(literal)
    assert err == {
        "element_id": "lit",
        "message": "decision 'lit' (Lit): only decision tables are supported, literalExpression is not supported",
    }
    xml = table(["n"], ["a"], [(["-"], ["1"])])
    decision = xml[xml.index("<decision ") : xml.index("</definitions>")]
    (err,) = errors(xml.replace("</definitions>", decision + "</definitions>"))
    assert err == {"element_id": "d", "message": "decision 'd' (Decide): the decision id is used twice"}


def test_output_without_name_and_duplicate_names():
    xml = table(["n"], ["a", "a"], [(["-"], ["1", "2"])]).replace('name="a"', 'name=""', 1)
    (err,) = errors(xml)
    assert err == {"element_id": "out1", "message": "decision 'd' (Decide): output 'Out a' has no name"}
    (err,) = errors(table(["n"], ["a", "a"], [(["-"], ["1", "2"])]))
    assert err["message"] == "decision 'd' (Decide): two outputs are named 'a'"


def test_entities_are_not_resolved():
    xml = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<definitions xmlns="{DMN13}" id="defs"><decision id="d"><decisionTable>'
        '<input id="i"><inputExpression><text>x</text></inputExpression></input><output id="o" name="o"/>'
        '<rule id="r"><inputEntry><text>-</text></inputEntry><outputEntry><text>&e;</text></outputEntry></rule>'
        "</decisionTable></decision></definitions>"
    )
    (decision,) = dmn.parse(xml.encode())
    assert "root:" not in repr(decision)


# --- older namespaces and a modeller's export ---


@pytest.mark.parametrize(
    "ns", ["http://www.omg.org/spec/DMN/20180521/MODEL/", "http://www.omg.org/spec/DMN/20151101/dmn.xsd"]
)
def test_dmn_11_and_12_namespaces(ns):
    assert decide(table(["score"], ["grade"], GRADES, ns=ns), {"score": 90}).value == {"grade": "high"}


CAMUNDA_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" xmlns:modeler="http://camunda.org/schema/modeler/1.0" xmlns:camunda="http://camunda.org/schema/1.0/dmn" id="Definitions_0x1" name="Service fee" namespace="http://camunda.org/schema/1.0/dmn" exporter="Camunda Modeler" exporterVersion="5.20.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
  <decision id="service_fee" name="Service fee">
    <decisionTable id="DecisionTable_1a2b" hitPolicy="FIRST">
      <input id="Input_1" label="Category" camunda:inputVariable="category">
        <inputExpression id="InputExpression_1" typeRef="string">
          <text>category</text>
        </inputExpression>
        <inputValues id="UnaryTests_0v"><text>"broadband","mobile"</text></inputValues>
      </input>
      <input id="InputClause_0z" label="Months" biodi:width="192" xmlns:biodi="http://bpmn.io/schema/dmn/biodi/2.0">
        <inputExpression id="LiteralExpression_0m" typeRef="integer">
          <text>contract.months</text>
        </inputExpression>
      </input>
      <output id="Output_1" label="Fee" name="fee" typeRef="string" />
      <output id="OutputClause_1" label="Waived" name="waived" typeRef="boolean" />
      <rule id="DecisionRule_0a">
        <description>long broadband contracts</description>
        <inputEntry id="UnaryTests_1a">
          <text>"broadband"</text>
        </inputEntry>
        <inputEntry id="UnaryTests_1b">
          <text>&gt;= 24</text>
        </inputEntry>
        <outputEntry id="LiteralExpression_1a">
          <text>"x"</text>
        </outputEntry>
        <outputEntry id="LiteralExpression_1b">
          <text>true</text>
        </outputEntry>
      </rule>
      <rule id="DecisionRule_0b">
        <inputEntry id="UnaryTests_2a">
          <text>"broadband","mobile"</text>
        </inputEntry>
        <inputEntry id="UnaryTests_2b">
          <text></text>
        </inputEntry>
        <outputEntry id="LiteralExpression_2a">
          <text>"standard"</text>
        </outputEntry>
        <outputEntry id="LiteralExpression_2b">
          <text>false</text>
        </outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_1">
      <dmndi:DMNShape id="DMNShape_1" dmnElementRef="service_fee">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def test_camunda_modeler_export():
    assert dmn.validate(CAMUNDA_EXPORT) == []
    (decision,) = dmn.parse(CAMUNDA_EXPORT)
    assert (decision.id, decision.name, decision.hit_policy, decision.aggregation) == (
        "service_fee",
        "Service fee",
        "FIRST",
        None,
    )
    assert decision.inputs[0] == dmn.Input("Input_1", "Category", "category", "string")
    assert decision.outputs[1] == dmn.Output("OutputClause_1", "Waived", "waived", "boolean")
    assert decision.rules[0] == dmn.Rule(
        "DecisionRule_0a", 1, ('"broadband"', ">= 24"), ('"x"', "true"), "long broadband contracts"
    )
    long = dmn.evaluate(decision, {"category": "broadband", "contract": {"months": 36}})
    assert long.value == {"fee": "x", "waived": True}
    assert [r.id for r in long.matched] == ["DecisionRule_0a", "DecisionRule_0b"]
    assert dmn.evaluate(decision, {"category": "mobile"}).value == {"fee": "standard", "waived": False}
    assert dmn.evaluate(decision, {"category": "tv"}).value is None


def test_a_decision_that_requires_another_is_refused_not_run_without_it():
    xml = table(["x"], ["o"], [(["-"], ["1"])]).replace(
        '<decisionTable', '<informationRequirement id="ir"><requiredDecision href="#other" /></informationRequirement>'
                          '<decisionTable', 1)
    [error] = errors(xml)
    assert "require other decisions" in error["message"]
