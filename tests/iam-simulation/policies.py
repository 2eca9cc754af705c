"""Every IAM policy a stage deploys, as IAM would hold it, for simulate.mjs beside this file.

Reads `pipeline/bootstrap.yaml` (the deploy role and the permissions boundary) and `template.yaml`
after the SAM transform (the functions' roles SAM makes, and CodeDeploy's), and resolves their
intrinsics for one example stage: account 111122223333, region eu-west-1, the stack
omnilab-bookings-uat, every parameter as the pipeline passes it. Resources get the physical names
CloudFormation would give them (`<stack>-<LogicalId>-<suffix>`). Prints one JSON document:

    {"example": {...}, "deployRole": {...}, "boundary": {...}, "stackRoles": {LogicalId: {...}}}

Run by scripts/check-template.sh with the venv's Python (cfn-lint's YAML reader, samtranslator):
    .venv/bin/python tests/iam-simulation/policies.py [--existing-secret] [--custom-domain]
(--existing-secret: the stage reads an existing secret under a customer-managed key;
--custom-domain: the stack has a custom domain whose records it writes into a hosted zone.)
"""

import json
import logging
import os
import re
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

# The repository, or DEPLOY_FILES_ROOT to read a copy (scripts/check-template.sh's broken one).
ROOT = os.environ.get("DEPLOY_FILES_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ACCOUNT = "111122223333"
REGION = "eu-west-1"
PARTITION = "aws"
STACK = "omnilab-bookings-uat"
BOOTSTRAP_STACK = "omnilab-bookings-pipeline-uat"
EXISTING_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:omnilab/uat"
SECRET_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
DOMAIN = "bookings-api.example-brand.com"
HOSTED_ZONE = "Z0123456789EXAMPLE"
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-permissions-boundary"


class NoManagedPolicies:
    """samtranslator's managed-policy lookup (IAM's ListPolicies): the template names none by name."""

    def load(self):
        return {}


class Stack:
    """One template's intrinsics, resolved the way CloudFormation would for one set of values."""

    def __init__(self, template, stack_name, parameters):
        self.template = template
        self.stack_name = stack_name
        self.parameters = {
            name: parameters.get(name, spec.get("Default"))
            for name, spec in template.get("Parameters", {}).items()
        }
        missing = [name for name, value in self.parameters.items() if value is None]
        if missing:
            raise SystemExit(f"policies.py: no value for {missing}")
        self.pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def physical_name(self, logical_id):
        return f"{self.stack_name}-{logical_id}-EXAMPLE1234"

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.template["Resources"][name]
        kind, props = resource["Type"], resource.get("Properties", {})
        physical = self.physical_name(name)
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{self.value(props['ManagedPolicyName'])}"
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-EXAMPLE1234-AbCdEf"
        if kind == "AWS::Logs::LogGroup":
            return self.value(props["LogGroupName"])
        if kind == "AWS::IAM::OIDCProvider":
            return f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"
        if kind in ("AWS::IAM::Role", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Lambda::Function",
                    "AWS::CloudWatch::Alarm"):
            return physical
        raise SystemExit(f"policies.py: no Ref for {kind} {name}")

    def get_att(self, name, attribute):
        kind = self.template["Resources"][name]["Type"]
        ref = self.ref(name)
        arns = {
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{ref}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{ref}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ref}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{ref}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{ref}:*",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        raise SystemExit(f"policies.py: no GetAtt {name}.{attribute}")

    def created(self, resource):
        """Whether the resource exists for these values (its Condition, if any, holds)."""
        return "Condition" not in resource or self.condition(resource["Condition"])

    def condition(self, name):
        return self.value(self.template["Conditions"][name])

    def sub(self, text, variables):
        def one(match):
            token = match.group(1)
            if token in variables:
                return str(variables[token])
            if "." in token:
                return self.get_att(*token.split(".", 1))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def value(self, node):
        """The node resolved; AWS::NoValue as None, which containers drop."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return None if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], {k: self.value(v) for k, v in arg[1].items()})
                return self.sub(arg, {})
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                return self.value(arg[0]).join(self.value(arg[1]))
            if key == "Fn::Split":
                return self.value(arg[1]).split(self.value(arg[0]))
            if key == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if key.startswith("Fn::"):
                raise SystemExit(f"policies.py: cannot resolve {key}")
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not None}


def load(rel):
    template, matches = decode(os.path.join(ROOT, rel))
    if matches:
        raise SystemExit(f"policies.py: {rel}: {matches}")
    return template


def main():
    existing_secret = "--existing-secret" in sys.argv[1:]
    secret = {"OmniLabSecretArn": EXISTING_SECRET} if existing_secret else {}
    custom_domain = "--custom-domain" in sys.argv[1:]
    domain = {"CustomDomainName": DOMAIN, "CustomDomainHostedZoneId": HOSTED_ZONE} if custom_domain else {}
    # samtranslator logs its feature toggles on stderr.
    logging.disable(logging.WARNING)

    bootstrap = Stack(load("pipeline/bootstrap.yaml"), BOOTSTRAP_STACK, {
        "GitHubOrg": "example-brand", "GitHubRepo": "omnilab-bookings", "StageName": "uat",
        "ApplicationStackName": STACK, **secret, **domain,
    })
    deploy_role = bootstrap.template["Resources"]["DeployRole"]["Properties"]
    boundary = bootstrap.template["Resources"]["PermissionsBoundary"]["Properties"]
    if bootstrap.ref("PermissionsBoundary") != BOUNDARY:
        raise SystemExit(f"policies.py: the boundary is {bootstrap.ref('PermissionsBoundary')}, not {BOUNDARY}")

    # SAM's transform needs a region, and an S3 location for code that sam build would upload.
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    source = load("template.yaml")
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://example-artifacts/function.zip"
    transformed = transform(source, {}, NoManagedPolicies())
    # The parameters as samconfig.toml's uat list and the pipeline give them.
    app = Stack(transformed, STACK, {
        "OmniLabTenant": "example-brand", "OmniLabEnvironment": "uat",
        "JwtIssuer": "https://auth.example-brand.com/", "JwtAudience": "bookings-api",
        "AllowedOrigins": "https://uat.example-brand.com", "AlarmEmail": "oncall@example-brand.com",
        "PermissionsBoundaryArn": BOUNDARY, **secret, **domain,
        **({"CustomDomainCertificateArn": CERTIFICATE} if custom_domain else {}),
        **({"OmniLabSecretKmsKeyArn": SECRET_KEY} if existing_secret else {}),
    })
    roles = {}
    for logical_id, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = app.value(resource["Properties"])
        roles[logical_id] = {
            "arn": app.get_att(logical_id, "Arn"),
            "trust": props["AssumeRolePolicyDocument"],
            "inlinePolicies": [{"name": p["PolicyName"], "policy": p["PolicyDocument"]}
                               for p in props.get("Policies", [])],
            "managedPolicyArns": props.get("ManagedPolicyArns", []),
            "permissionsBoundary": props.get("PermissionsBoundary"),
        }
    functions = {
        logical_id: {
            "arn": app.get_att(logical_id, "Arn"),
            "role": resource["Properties"]["Role"]["Fn::GetAtt"][0],
            "logGroup": app.value(resource["Properties"]["LoggingConfig"]["LogGroup"]),
        }
        for logical_id, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    codedeploy_roles = sorted({
        resource["Properties"]["ServiceRoleArn"]["Fn::GetAtt"][0]
        for resource in transformed["Resources"].values()
        if resource["Type"] == "AWS::CodeDeploy::DeploymentGroup"
    })
    print(json.dumps({
        "example": {
            "account": ACCOUNT, "region": REGION, "stack": STACK, "boundary": BOUNDARY,
            "secret": EXISTING_SECRET if existing_secret else app.ref("OmniLabSecret"),
            "existingSecret": existing_secret,
            "secretKey": SECRET_KEY if existing_secret else None,
            "customDomain": DOMAIN if custom_domain else None,
            "hostedZone": HOSTED_ZONE if custom_domain else None,
            "table": app.get_att("OmniLabTokenTable", "Arn"),
            "artifactsBucket": bootstrap.get_att("ArtifactsBucket", "Arn"),
            "deployRole": bootstrap.get_att("DeployRole", "Arn"),
        },
        "deployRole": {"inlinePolicies": [{"name": p["PolicyName"], "policy": p["PolicyDocument"]}
                                          for p in bootstrap.value(deploy_role["Policies"])] + [
            # Its policies of their own (AWS::IAM::RolePolicy), where their condition holds.
            {"name": bootstrap.value(r["Properties"]["PolicyName"]),
             "policy": bootstrap.value(r["Properties"]["PolicyDocument"])}
            for r in bootstrap.template["Resources"].values()
            if r["Type"] == "AWS::IAM::RolePolicy"
            and r["Properties"]["RoleName"] == {"Ref": "DeployRole"}
            and bootstrap.created(r)
        ]},
        "boundary": bootstrap.value(boundary["PolicyDocument"]),
        "stackRoles": roles,
        "functions": functions,
        "codeDeployRoles": codedeploy_roles,
    }, indent=1))


if __name__ == "__main__":
    main()
