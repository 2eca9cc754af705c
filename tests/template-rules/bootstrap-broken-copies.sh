#!/usr/bin/env bash
# The rules in bootstrap.guard must be able to fail: as broken-copies.sh does for template.yaml,
# each case breaks a copy of pipeline/bootstrap.yaml on purpose (one Perl substitution) and names
# the rule that must reject it; every rule has at least one case.
# Run by scripts/check-template.sh; alone: tests/template-rules/bootstrap-broken-copies.sh (cfn-guard on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
src=pipeline/bootstrap.yaml
rules=tests/template-rules/bootstrap.guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/bootstrap.yaml"
rejected=0
exercised=" "

die() {
    echo "bootstrap-broken-copies: FAIL: $*" >&2
    exit 1
}

broken() { # rule, what, edit
    local rule=$1 what=$2 out rc
    grep -q "^rule $rule " "$rules" || die "'$what' names no rule of $rules: $rule"
    perl -0pe "$3" "$src" >"$copy"
    ! cmp -s "$src" "$copy" || die "the edit for '$what' no longer changes $src: update it"
    set +e
    out=$(cfn-guard validate --rules "$rules" --data "$copy" --show-summary all 2>&1)
    rc=$?
    set -e
    [[ $rc == 19 ]] || { printf '%s\n' "$out" >&2; die "'$what': cfn-guard exited $rc, not 19"; }
    grep -Eq "/$rule +FAIL$" <<<"$out" || { printf '%s\n' "$out" >&2; die "'$what' is not rejected by $rule"; }
    rejected=$((rejected + 1))
    exercised+="$rule "
    printf '  rejected by %-56s %s\n' "$rule" "$what"
}

broken only_the_role_the_boundary_the_buckets_and_the_provider 'a managed policy granting more' \
    's/\nOutputs:/\n  Extra:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "iam:*", Resource: "*"}]}\n\nOutputs:/'
broken only_the_role_the_boundary_the_buckets_and_the_provider 'a third bucket' \
    's/\nOutputs:/\n  OtherBucket:\n    Type: AWS::S3::Bucket\n\nOutputs:/'
broken the_artifacts_bucket_logs_every_request 'no access logs on the artifacts bucket' \
    's/      LoggingConfiguration:\n        DestinationBucketName: !Ref ArtifactsLogBucket\n        LogFilePrefix: artifacts\/\n//'
broken the_artifacts_bucket_logs_every_request 'any S3 bucket may deliver logs into the log bucket' \
    's/              ArnEquals:\n                aws:SourceArn: !GetAtt ArtifactsBucket.Arn\n//'
broken the_artifacts_bucket_logs_every_request 'another service may write into the log bucket' \
    's/Service: logging.s3.amazonaws.com/Service: [logging.s3.amazonaws.com, lambda.amazonaws.com]/'
broken the_role_trusts_only_this_repository_environment 'any branch of the repository (StringLike on the sub)' \
    's/              StringEquals:\n(                token.actions.githubusercontent.com:aud: sts.amazonaws.com\n)(                token.actions.githubusercontent.com:sub: )!Sub "repo:\$\{GitHubOrg\}\/\$\{GitHubRepo\}:environment:\$\{StageName\}:ref:refs\/heads\/main"/              StringEquals:\n$1              StringLike:\n$2"repo:*"/'
broken the_role_trusts_only_this_repository_environment 'any ref of the repository, not the environment' \
    's/:environment:\$\{StageName\}:ref:refs\/heads\/main"/:ref:refs\/heads\/main"/'
broken the_role_trusts_only_this_repository_environment 'the environment from any branch (the default subject)' \
    's/:environment:\$\{StageName\}:ref:refs\/heads\/main"/:environment:\$\{StageName\}"/'
broken the_role_trusts_only_this_repository_environment 'the environment from any branch (a wildcard ref)' \
    's/StringEquals:\n(                token.actions.githubusercontent.com:aud: sts.amazonaws.com\n)/StringEquals:\n$1              StringLike:\n/; s/(:environment:\$\{StageName\}:ref:refs\/heads\/)main"/$1*"/'
broken the_role_trusts_only_this_repository_environment 'no audience condition' \
    's/                token.actions.githubusercontent.com:aud: sts.amazonaws.com\n//'
broken the_role_trusts_only_this_repository_environment 'a fourth stage' \
    's/AllowedValues: \[dev, uat, prod\]/AllowedValues: [dev, uat, prod, sandbox]/'
broken the_deploy_policy_names_its_actions_and_resources 'lambda:* on the stack functions' \
    's/                  - lambda:CreateFunction\n/                  - "lambda:*"\n/'
broken the_deploy_policy_names_its_actions_and_resources 'CloudFormation on every stack' \
    's/(              - Sid: ThisStackOnly\n(?:                [^\n]*\n)*?                Resource:)\n                  - [^\n]*\n                  - [^\n]*\n/$1 "*"\n/'
broken the_deploy_policy_names_its_actions_and_resources 'an AWS managed policy on the role' \
    's/(      MaxSessionDuration: 3600\n)/$1      ManagedPolicyArns: [arn:aws:iam::aws:policy\/AdministratorAccess]\n/'
broken roles_are_passed_only_to_lambda_and_codedeploy 'PassRole to any service' \
    's/                    iam:PassedToService: \[lambda.amazonaws.com, codedeploy.amazonaws.com\]\n/                    iam:PassedToService: [lambda.amazonaws.com, codedeploy.amazonaws.com, ec2.amazonaws.com]\n/'
broken roles_are_passed_only_to_lambda_and_codedeploy 'PassRole on every role' \
    's/(                Action: iam:PassRole\n                Resource: )[^\n]*/$1"*"/'
broken only_the_role_the_boundary_the_buckets_and_the_provider 'no boundary policy' \
    's/  PermissionsBoundary:\n    Type: AWS::IAM::ManagedPolicy\n/  PermissionsBoundary:\n    Type: AWS::IAM::Group\n/'
# The escalation: a function's role given `*:*` through PutRolePolicy, then code that uses it.
broken roles_get_permissions_only_within_the_boundary 'PutRolePolicy on a role without the boundary' \
    's/(                  - iam:DeleteRole\n)/$1                  - iam:PutRolePolicy\n/'
broken roles_get_permissions_only_within_the_boundary 'CreateRole with any boundary or none' \
    's/(                  - iam:UpdateAssumeRolePolicy\n                  - iam:PutRolePermissionsBoundary\n                Resource: [^\n]*\n)                Condition:\n                  StringEquals:\n                    iam:PermissionsBoundary: !Ref PermissionsBoundary\n/$1/'
broken roles_get_permissions_only_within_the_boundary 'AttachRolePolicy without the boundary' \
    's/(                Action: iam:AttachRolePolicy\n                Resource: [^\n]*\n                Condition:\n)                  StringEquals:\n                    iam:PermissionsBoundary: !Ref PermissionsBoundary\n/$1/'
broken roles_get_permissions_only_within_the_boundary 'the boundary may be removed from a role' \
    's/              - Sid: KeepTheBoundary\n                Effect: Deny\n                Action: iam:DeleteRolePermissionsBoundary\n                Resource: [^\n]*\n//'
broken roles_get_permissions_only_within_the_boundary 'the boundary may be edited' \
    's/(                  - iam:SetDefaultPolicyVersion\n                  - iam:TagPolicy\n                  - iam:UntagPolicy\n                Resource: )!Ref PermissionsBoundary/$1"arn:aws:iam::111122223333:policy\/other"/'
broken the_boundary_allows_only_what_the_stack_uses 'iam:PassRole within the boundary' \
    's/(            Action: \[lambda:GetAlias, lambda:UpdateAlias, )/${1}iam:PassRole, /'
broken the_boundary_allows_only_what_the_stack_uses 'every table of the account' \
    's/(            Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]\n            Resource: )[^\n]*/$1"*"/'
broken the_boundary_allows_only_what_the_stack_uses 'a wildcard action' \
    's/Action: \[logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents\]/Action: "logs:*"/'
broken the_custom_domain_permissions_are_that_domains_only 'a custom domain created with TLS 1.0' \
    's/apigateway:Request\/SecurityPolicy: TLS_1_2/apigateway:Request\/SecurityPolicy: TLS_1_0/'
broken the_custom_domain_permissions_are_that_domains_only 'every domain name of the region' \
    's/(          - Sid: TheCustomDomain\n            Effect: Allow\n            Action: \[apigateway:GET, apigateway:DELETE\]\n            Resource: !Sub "[^"]*::\/domainnames\/)\$\{CustomDomainName\}"/$1*"/'
broken the_custom_domain_permissions_are_that_domains_only 'the mappings of every domain name' \
    's/(::\/domainnames\/)\$\{CustomDomainName\}(\/apimappings\/\*")/$1*$2/'
broken the_custom_domain_permissions_are_that_domains_only 'any record of the zone' \
    's/                route53:ChangeResourceRecordSetsNormalizedRecordNames: \[!Ref CustomDomainName\]\n//'
broken the_custom_domain_permissions_are_that_domains_only 'domain permissions without a custom domain' \
    's/(  CustomDomainDeployPolicy:\n    Type: AWS::IAM::RolePolicy\n    Condition: )HasCustomDomain/${1}CreateOidcProvider/'
broken the_custom_domain_permissions_are_that_domains_only 'zone permissions without a hosted zone' \
    's/(  CustomDomainRecordsDeployPolicy:\n    Type: AWS::IAM::RolePolicy\n    Condition: )HasCustomDomainRecords/${1}HasCustomDomain/'
broken the_custom_domain_permissions_are_that_domains_only 'a third role policy' \
    's/\nOutputs:/\n  MorePolicy:\n    Type: AWS::IAM::RolePolicy\n    Condition: HasCustomDomain\n    Properties:\n      RoleName: !Ref DeployRole\n      PolicyName: more\n      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "apigateway:GET", Resource: "arn:aws:apigateway:eu-west-1::\/x"}]}\n\nOutputs:/'
broken the_custom_domain_permissions_are_that_domains_only 'another service in a custom-domain statement' \
    's/Action: \[route53:GetHostedZone, route53:ListResourceRecordSets\]/Action: [route53:GetHostedZone, route53:ListResourceRecordSets, iam:PassRole]/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'versioning suspended' \
    's/        Status: Enabled\n      PublicAccessBlockConfiguration/        Status: Suspended\n      PublicAccessBlockConfiguration/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'public policies allowed' \
    's/BlockPublicPolicy: true/BlockPublicPolicy: false/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'plain HTTP allowed' \
    's/aws:SecureTransport: "false"/aws:SecureTransport: "true"/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'deleted with the stack' \
    's/(  ArtifactsBucket:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: )Retain/${1}Delete/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'the access logs deleted with the stack' \
    's/(  ArtifactsLogBucket:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: )Retain/${1}Delete/'
broken the_artifacts_bucket_is_private_encrypted_and_versioned 'the access logs over plain HTTP' \
    's/(\$\{ArtifactsLogBucket.Arn\}\/\*"\n            Condition:\n              Bool:\n                aws:SecureTransport: )"false"/$1"true"/'

for rule in $(sed -n 's/^rule \([a-z0-9_]*\) .*/\1/p' "$rules"); do
    [[ "$exercised" == *" $rule "* ]] || die "no broken copy of $src is rejected by $rule: add one"
done
echo "bootstrap broken copies: $rejected rejected, each by the rule it breaks"
