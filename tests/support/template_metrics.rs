//! The metrics `template.yaml` names: every alarm's (its own, or each `MetricStat` of a
//! metric-math alarm) and every dashboard widget's, read as CloudWatch reads them, and which of
//! them the functions were not seen emitting. In support so that the template is read one way
//! by every test that holds it against what the functions emit.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::emf::Observed;

/// A file of the repository, or of `DEPLOY_FILES_ROOT` to run the check on a copy.
pub fn read_template() -> Yaml {
    let root = std::env::var_os("DEPLOY_FILES_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let path = root.join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// Where the template names a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Alarm,
    Dashboard,
}

/// A template metric's namespace: only the parameter's are the functions' to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// `!Ref MetricsNamespace` (or `${MetricsNamespace}` in a `!Sub`).
    Parameter,
    Literal(String),
    /// Something this check cannot read (another intrinsic).
    Unreadable(String),
}

/// One metric the template reads: where, in which namespace, which name and dimensions.
#[derive(Clone, Debug)]
pub struct TemplateMetric {
    pub source: Source,
    /// For messages: the alarm's or the widget's name and the metric's place in it.
    pub name: String,
    pub namespace: Namespace,
    pub metric: String,
    pub dimensions: Dimensions,
}

/// (name, value) pairs; a value this check cannot read is `<...>`.
pub type Dimensions = Vec<(String, String)>;

/// What `${MetricsNamespace}` becomes in the dashboard's body, for the walk to recognise.
const NAMESPACE_MARKER: &str = "<parameter MetricsNamespace>";

/// Every metric of every `AWS::CloudWatch::Alarm` (its own, or each `MetricStat` of a
/// metric-math alarm) and of every `AWS::CloudWatch::Dashboard`'s widgets. A metric whose
/// namespace is the parameter's default written out is `Unreadable`: it would not follow the
/// parameter. `binaries_default`, the functions' namespace without `METRICS_NAMESPACE`, stands
/// for a default the template does not give.
pub fn template_metrics(template: &Yaml, binaries_default: &str) -> Vec<TemplateMetric> {
    let parameters = template["Parameters"]
        .as_mapping()
        .expect("template.yaml has Parameters");
    assert!(
        parameters.contains_key("MetricsNamespace"),
        "template.yaml has no MetricsNamespace parameter"
    );
    let default = template["Parameters"]["MetricsNamespace"]["Default"]
        .as_str()
        .unwrap_or(binaries_default)
        .to_owned();
    let mut metrics = Vec::new();
    let resources = template["Resources"].as_mapping().expect("Resources");
    for (id, resource) in resources {
        let id = id.as_str().expect("a logical id");
        let properties = &resource["Properties"];
        match resource["Type"].as_str() {
            Some("AWS::CloudWatch::Alarm") => {
                if properties.get("MetricName").is_some() {
                    metrics.push(alarm_metric(id.to_owned(), properties));
                }
                for (i, query) in properties["Metrics"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let metric = &query["MetricStat"]["Metric"];
                    if metric.is_mapping() {
                        let name = format!(
                            "alarm {id}, Metrics[{i}] (Id {})",
                            query["Id"].as_str().unwrap_or("?")
                        );
                        metrics.push(alarm_metric(name, metric));
                    }
                }
            }
            Some("AWS::CloudWatch::Dashboard") => {
                metrics.extend(dashboard_metrics(id, &properties["DashboardBody"]));
            }
            _ => {}
        }
    }
    for metric in &mut metrics {
        // A namespace written out as the parameter's default does not follow the parameter.
        if metric.namespace == Namespace::Literal(default.clone()) {
            metric.namespace =
                Namespace::Unreadable(format!("{default} written out: use !Ref MetricsNamespace"));
        }
    }
    metrics
}

/// An alarm's `Namespace`/`MetricName`/`Dimensions`, or a `MetricStat.Metric`'s.
fn alarm_metric(name: String, metric: &Yaml) -> TemplateMetric {
    let name = if name.starts_with("alarm ") {
        name
    } else {
        format!("alarm {name}")
    };
    let dimensions = metric["Dimensions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|d| (yaml_text(&d["Name"]), yaml_text(&d["Value"])))
        .collect();
    TemplateMetric {
        source: Source::Alarm,
        name,
        namespace: namespace_of(&metric["Namespace"]),
        metric: yaml_text(&metric["MetricName"]),
        dimensions,
    }
}

/// A plain string as itself, anything else (an intrinsic) as `<...>`.
fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        other => format!(
            "<{}>",
            serde_norway::to_string(other).unwrap_or_default().trim()
        ),
    }
}

fn namespace_of(value: &Yaml) -> Namespace {
    let is_parameter = match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value == "MetricsNamespace",
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => tagged.value == "${MetricsNamespace}",
        Yaml::Mapping(m) if m.len() == 1 => {
            m.get("Ref").is_some_and(|v| v == "MetricsNamespace")
                || m.get("Fn::Sub").is_some_and(|v| v == "${MetricsNamespace}")
        }
        _ => false,
    };
    match value {
        _ if is_parameter => Namespace::Parameter,
        Yaml::String(s) => Namespace::Literal(s.clone()),
        other => Namespace::Unreadable(yaml_text(other)),
    }
}

/// The dashboard's widgets' metrics. The body is a `!Sub` of JSON text (or plain JSON text):
/// `${MetricsNamespace}` becomes [`NAMESPACE_MARKER`], every other `${...}` `<...>`, `${!x}`
/// `${x}`; then each metric widget's `properties.metrics` rows are read in CloudWatch's
/// `[namespace, metric, dimension, value, ..., {options}]` form, where "." is "the same as in
/// the row before" and a leading "..." is "the row before, up to the values that follow".
pub fn dashboard_metrics(id: &str, body: &Yaml) -> Vec<TemplateMetric> {
    let (text, variables) = match body {
        Yaml::String(s) => (s.clone(), None),
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => match &tagged.value {
            Yaml::String(s) => (s.clone(), None),
            Yaml::Sequence(parts) if parts.len() == 2 && parts[0].is_string() => (
                parts[0].as_str().expect("checked").to_owned(),
                parts[1].as_mapping().cloned(),
            ),
            other => panic!("dashboard {id}: an unreadable !Sub: {other:?}"),
        },
        Yaml::Mapping(m) if m.get("Fn::Sub").is_some_and(Yaml::is_string) => {
            (m.get("Fn::Sub").map(yaml_text).unwrap_or_default(), None)
        }
        other => panic!("dashboard {id}: a DashboardBody this check cannot read: {other:?}"),
    };
    let text = substitute(&text, variables.as_ref());
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("dashboard {id}: the DashboardBody is not JSON after substitution ({e}):\n{text}")
    });
    let mut metrics = Vec::new();
    for (w, widget) in body["widgets"].as_array().into_iter().flatten().enumerate() {
        let title = widget["properties"]["title"]
            .as_str()
            .map_or_else(|| format!("widget {w}"), |t| format!("widget {w} \"{t}\""));
        let mut previous: Vec<Value> = Vec::new();
        for (r, row) in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let row = row.as_array().cloned().unwrap_or_default();
            let mut values: Vec<Value> = row.iter().filter(|v| !v.is_object()).cloned().collect();
            if values.first().is_some_and(|v| v == "...") {
                let rest = values.split_off(1);
                let keep = previous.len().saturating_sub(rest.len());
                values = previous[..keep].iter().cloned().chain(rest).collect();
            }
            for (i, value) in values.iter_mut().enumerate() {
                if value == "." {
                    *value = previous.get(i).cloned().unwrap_or(Value::Null);
                }
            }
            previous = values.clone();
            if values.is_empty() {
                continue; // an expression row: no metric of its own
            }
            let strings: Vec<String> = values
                .iter()
                .map(|v| v.as_str().unwrap_or("?").to_owned())
                .collect();
            let name = format!("dashboard {id}, {title}, metrics[{r}]");
            let namespace = match strings[0].as_str() {
                NAMESPACE_MARKER => Namespace::Parameter,
                other if other.contains(NAMESPACE_MARKER) => Namespace::Unreadable(other.into()),
                other => Namespace::Literal(other.into()),
            };
            let dimensions = strings[2.min(strings.len())..]
                .chunks(2)
                .map(|pair| {
                    let value = pair.get(1).cloned();
                    (
                        pair[0].clone(),
                        value.unwrap_or_else(|| "<no value>".into()),
                    )
                })
                .collect();
            metrics.push(TemplateMetric {
                source: Source::Dashboard,
                name,
                namespace,
                metric: strings.get(1).cloned().unwrap_or_default(),
                dimensions,
            });
        }
    }
    metrics
}

/// `!Sub`'s substitution, as far as this check needs it.
fn substitute(text: &str, variables: Option<&serde_norway::Mapping>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        if let Some(literal) = after.strip_prefix('!') {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let name = &after[..end];
        let variable = variables.and_then(|v| v.get(name));
        match variable {
            Some(value) if namespace_of(value) == Namespace::Parameter => {
                out.push_str(NAMESPACE_MARKER)
            }
            Some(Yaml::String(value)) => out.push_str(value),
            _ if name == "MetricsNamespace" => out.push_str(NAMESPACE_MARKER),
            _ => {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every template metric in the parameter's namespace that the functions were not seen
/// emitting exactly so; one message each, naming the alarm or widget and the metric.
pub fn mismatches(metrics: &[TemplateMetric], observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    for m in metrics {
        let described = format!(
            "{}: {} {{{}}}",
            m.name,
            m.metric,
            m.dimensions
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        match &m.namespace {
            Namespace::Parameter => {}
            Namespace::Unreadable(what) => {
                problems.push(format!(
                    "{described}: namespace {what} is not !Ref MetricsNamespace"
                ));
                continue;
            }
            // AWS/ApiGateway, AWS/Lambda, ...: not ours to check.
            Namespace::Literal(_) => continue,
        }
        let names: BTreeSet<String> = m.dimensions.iter().map(|(n, _)| n.clone()).collect();
        if names.len() != m.dimensions.len() {
            problems.push(format!("{described}: a dimension named twice"));
            continue;
        }
        let Some(values) = observed.0.get(&(m.metric.clone(), names.clone())) else {
            let emitted: Vec<String> = observed
                .0
                .keys()
                .filter(|(metric, _)| *metric == m.metric)
                .map(|(_, dims)| format!("{dims:?}"))
                .collect();
            problems.push(if emitted.is_empty() {
                format!("{described}: no metric {} is emitted", m.metric)
            } else {
                format!(
                    "{described}: {} is emitted only with the dimensions {}",
                    m.metric,
                    emitted.join(" or ")
                )
            });
            continue;
        };
        for (name, value) in &m.dimensions {
            let seen = values.get(name).cloned().unwrap_or_default();
            // The version a deploy published (`!GetAtt <Function>.Version.Version`) is known only
            // then: any published version's number stands for it.
            let published = name == "Version"
                && value.starts_with("<!GetAtt ")
                && value.ends_with(".Version.Version>");
            if published
                && seen
                    .iter()
                    .any(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            if !seen.contains(value) {
                problems.push(format!(
                    "{described}: {name}={value} was never emitted with {} (emitted: {seen:?})",
                    m.metric
                ));
            }
        }
    }
    problems
}
