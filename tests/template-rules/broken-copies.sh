#!/usr/bin/env bash
# The rules in template.guard must be able to fail. Each `broken` case below breaks a copy of
# template.yaml on purpose (one Perl substitution over the whole file) and names the rule that
# must reject it; each `allowed` case changes the copy in a way every rule must still accept.
# Every rule has at least one broken case. An edit that no longer changes template.yaml stops the
# run: after editing the template, update the edit.
#
# Run by scripts/check-template.sh; alone: tests/template-rules/broken-copies.sh (cfn-guard on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rules=tests/template-rules/template.guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/template.yaml"
rejected=0
allowed=0
exercised=" "

die() {
    echo "broken-copies: FAIL: $*" >&2
    exit 1
}

make_copy() { # what, edit
    perl -0pe "$2" template.yaml >"$copy"
    ! cmp -s template.yaml "$copy" || die "the edit for '$1' no longer changes template.yaml: update it"
}

validate_copy() {
    set +e
    out=$(cfn-guard validate --rules "$rules" --data "$copy" --show-summary all 2>&1)
    rc=$?
    set -e
}

broken() { # rule, what, edit
    local rule=$1 what=$2
    grep -q "^rule $rule " "$rules" || die "'$what' names no rule of $rules: $rule"
    make_copy "$what" "$3"
    validate_copy
    # 19 is cfn-guard's status for a failed rule; anything else (a parse error, a crash) is not.
    [[ $rc == 19 ]] || { printf '%s\n' "$out" >&2; die "'$what': cfn-guard exited $rc, not 19"; }
    grep -Eq "/$rule +FAIL$" <<<"$out" || { printf '%s\n' "$out" >&2; die "'$what' is not rejected by $rule"; }
    rejected=$((rejected + 1))
    exercised+="$rule "
    printf '  rejected by %-66s %s\n' "$rule" "$what"
}

allowed() { # what, edit
    local what=$1
    make_copy "$what" "$2"
    validate_copy
    [[ $rc == 0 ]] && ! grep -Eq ' (FAIL|SKIP)$' <<<"$out" \
        || { printf '%s\n' "$out" >&2; die "'$what' must still pass every rule"; }
    allowed=$((allowed + 1))
    printf '  accepted    %-66s %s\n' "" "$what"
}

# --- the stack's shape
broken the_stack_has_one_api_two_functions_one_secret 'a second HttpApi' \
    's/\nOutputs:/\n  OtherApi:\n    Type: AWS::Serverless::HttpApi\n\nOutputs:/'
broken the_stack_has_one_api_two_functions_one_secret 'a second secret' \
    's/\nOutputs:/\n  OtherSecret:\n    Type: AWS::SecretsManager::Secret\n\nOutputs:/'
broken only_resource_kinds_whose_permissions_are_reviewed 'an IAM managed policy granting kms:* on *' \
    's/\nOutputs:/\n  Extra:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}\n\nOutputs:/'
broken shared_function_settings_live_in_globals 'a function overrides Timeout' \
    's/(      CodeUri: \.\n)/$1      Timeout: 60\n/'
broken shared_function_settings_live_in_globals 'a function overrides OMNILAB_SECRET_ID' \
    's/(      CodeUri: \.\n)/$1      Environment:\n        Variables:\n          OMNILAB_SECRET_ID: another-secret\n/'
broken shared_function_settings_live_in_globals 'a function overrides OMNILAB_TOKEN_TABLE' \
    's/(      CodeUri: \.\n)/$1      Environment:\n        Variables:\n          OMNILAB_TOKEN_TABLE: another-table\n/'
broken shared_function_settings_live_in_globals 'a function overrides METRICS_NAMESPACE' \
    's/(      CodeUri: \.\n)/$1      Environment:\n        Variables:\n          METRICS_NAMESPACE: Other\n/'
broken shared_function_settings_live_in_globals 'policies in Globals' \
    's/(    Tracing: Active\n)/$1    Policies: [AWSLambdaBasicExecutionRole]\n/'

# --- routes and authorizer
broken both_routes_are_wired_to_the_right_binary 'a REST API (Api) event' 's/          Type: HttpApi\n/          Type: Api\n/'
broken both_routes_are_wired_to_the_right_binary 'an event on another API' 's/            ApiId: !Ref HttpApi/            ApiId: !Ref OtherApi/'
broken both_routes_are_wired_to_the_right_binary 'a route without the JWT authorizer' \
    's/(              Authorizer: )JwtAuthorizer\n/$1NONE\n/'
broken both_routes_are_wired_to_the_right_binary 'a route with an authorizer of its own' \
    's/(              Authorizer: )JwtAuthorizer\n/$1OtherAuthorizer\n/'
broken both_routes_are_wired_to_the_right_binary 'GET /bookings moved' 's/Path: \/bookings\n/Path: \/bookings\/all\n/'
broken both_routes_are_wired_to_the_right_binary 'cancel becomes DELETE' 's/Method: POST/Method: DELETE/'
broken both_routes_are_wired_to_the_right_binary 'a third route' \
    's/(      Events:\n)/$1        Extra:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: GET\n            Path: \/health\n/'
broken both_routes_are_wired_to_the_right_binary 'list route builds cancel-booking' 's/Binary: list-bookings/Binary: cancel-booking/'
broken both_routes_are_wired_to_the_right_binary 'another build method' 's/BuildMethod: rust-cargolambda/BuildMethod: makefile/'
broken both_routes_are_wired_to_the_right_binary 'CodeUri not the workspace root' 's/CodeUri: \./CodeUri: functions\/list-bookings/'
broken jwt_authorizer_is_the_default_for_every_route 'an OpenAPI DefinitionBody' \
    's/(      FailOnWarnings: true\n)/$1      DefinitionBody: {openapi: "3.0.1", paths: {}}\n/'
broken jwt_authorizer_is_the_default_for_every_route 'the default authorizer is not declared' \
    's/DefaultAuthorizer: JwtAuthorizer/DefaultAuthorizer: OtherAuthorizer/'
broken jwt_authorizer_is_the_default_for_every_route 'identity from another header' \
    's/IdentitySource: \$request.header.Authorization/IdentitySource: \$request.header.X-Token/'
broken jwt_authorizer_is_the_default_for_every_route 'a hard-coded issuer' \
    's/issuer: !Ref JwtIssuer/issuer: https:\/\/auth.example.com\//'
broken jwt_authorizer_is_the_default_for_every_route 'an issuer default' \
    's/(  JwtIssuer:\n    Type: String\n)/$1    Default: https:\/\/auth.example.com\/\n/'
broken jwt_authorizer_is_the_default_for_every_route 'audience a String' \
    's/(  JwtAudience:\n    Type: )CommaDelimitedList/${1}String/'

# --- CORS
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'DELETE allowed' \
    's/AllowMethods: \[GET, POST, OPTIONS\]/AllowMethods: [GET, POST, OPTIONS, DELETE]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'POST missing' \
    's/AllowMethods: \[GET, POST, OPTIONS\]/AllowMethods: [GET, OPTIONS]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'another header' \
    's/AllowHeaders: \[authorization, content-type\]/AllowHeaders: [authorization, content-type, x-api-key]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'Retry-After not exposed' \
    's/ExposeHeaders: \[apigw-requestid, retry-after, www-authenticate\]/ExposeHeaders: [apigw-requestid, www-authenticate]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'another header exposed' \
    's/ExposeHeaders: \[apigw-requestid, retry-after, www-authenticate\]/ExposeHeaders: [apigw-requestid, retry-after, www-authenticate, x-amzn-trace-id]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'CORS credentials' \
    's/(        MaxAge: 600\n)/$1        AllowCredentials: true\n/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'origins hard-coded to *' \
    's/AllowOrigins: !Ref AllowedOrigins/AllowOrigins: ["*"]/'
broken cors_is_restricted_to_the_site_origins_methods_and_headers 'origins default *' \
    's/(  AllowedOrigins:\n    Type: CommaDelimitedList\n)/$1    Default: "*"\n/'
broken a_wildcard_origin_cannot_reach_uat_or_prod 'the Rule applies to prod only' \
    's/RuleCondition: !Not \[!Equals \[!Ref OmniLabEnvironment, dev\]\]/RuleCondition: !Equals [!Ref OmniLabEnvironment, prod]/'
broken a_wildcard_origin_cannot_reach_uat_or_prod 'the Rule checks another parameter' \
    's/!Contains \[!Ref AllowedOrigins, "\*"\]/!Contains [!Ref JwtAudience, "*"]/'
broken a_wildcard_origin_cannot_reach_uat_or_prod 'the Rule asserts the opposite' \
    's/Assert: !Not \[!Contains \[!Ref AllowedOrigins, "\*"\]\]/Assert: !Contains [!Ref AllowedOrigins, "*"]/'
broken a_wildcard_origin_cannot_reach_uat_or_prod 'a fourth environment' \
    's/AllowedValues: \[dev, uat, prod\]/AllowedValues: [dev, staging, uat, prod]/'

# --- functions
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'another runtime' 's/Runtime: provided.al2023/Runtime: provided.al2/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'x86_64' 's/Architectures: \[arm64\]/Architectures: [x86_64]/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'another handler' 's/Handler: bootstrap/Handler: main/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs '128 MB' 's/MemorySize: 256/MemorySize: 128/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'no active tracing' 's/Tracing: Active/Tracing: PassThrough/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'a 30 s timeout' 's/Timeout: 10/Timeout: 30/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'a timeout that is not a number' 's/Timeout: 10/Timeout: "10"/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'text logs' 's/LogFormat: JSON/LogFormat: Text/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'logs to a non-log-group' \
    's/LogGroup: !Ref ListBookingsLogGroup/LogGroup: !Ref HttpApi/'
broken functions_run_on_arm64_al2023_with_short_timeouts_and_json_logs 'a function log group without retention' \
    's/(list-bookings"\n)      RetentionInDays: !Ref LogRetentionInDays\n/$1/'
broken function_environment_is_complete 'a hard-coded tenant' 's/OMNILAB_TENANT: !Ref OmniLabTenant/OMNILAB_TENANT: example-brand/'
broken function_environment_is_complete 'environment from the tenant' \
    's/OMNILAB_ENVIRONMENT: !Ref OmniLabEnvironment/OMNILAB_ENVIRONMENT: !Ref OmniLabTenant/'
broken function_environment_is_complete 'OMNILAB_API_HOST always set' \
    's/OMNILAB_API_HOST: !If \[HasApiHost, !Ref OmniLabApiHost, !Ref AWS::NoValue\]/OMNILAB_API_HOST: !Ref OmniLabApiHost/'
broken function_environment_is_complete 'HasApiHost inverted' \
    's/HasApiHost: !Not \[!Equals \[!Ref OmniLabApiHost, ""\]\]/HasApiHost: !Equals [!Ref OmniLabApiHost, ""]/'
broken function_environment_is_complete 'an API host by default' \
    's/(  OmniLabApiHost:\n    Type: String\n    Default: )""/$1https:\/\/example-brand.api.omnilab-uat.21-digital.com/'
broken function_environment_is_complete 'a hard-coded claim' 's/EXTERNAL_ID_CLAIM: !Ref ExternalIdClaim/EXTERNAL_ID_CLAIM: sub/'
broken function_environment_is_complete 'no OMNILAB_SECRET_ID' 's/        OMNILAB_SECRET_ID: [^\n]*\n//'
broken each_function_has_its_concurrency_capped_by_a_parameter 'a hard-coded cap' \
    's/ReservedConcurrentExecutions: !Ref ReservedConcurrentExecutions/ReservedConcurrentExecutions: 20/'
broken each_function_has_its_concurrency_capped_by_a_parameter 'no cap' \
    's/    ReservedConcurrentExecutions: !Ref ReservedConcurrentExecutions\n//'
broken each_function_has_its_concurrency_capped_by_a_parameter 'a cap of 0 allowed' \
    's/(  ReservedConcurrentExecutions:\n    Type: Number\n    Default: 20\n    MinValue: )1/${1}0/'
broken each_function_has_its_concurrency_capped_by_a_parameter 'a default cap of 500' \
    's/(  ReservedConcurrentExecutions:\n    Type: Number\n    Default: )20/${1}500/'
broken the_external_id_claim_is_documented_as_one_the_customer_cannot_change 'a custom claim by default' \
    's/(  ExternalIdClaim:\n    Type: String\n    Default: )sub/${1}custom:external_id/'
broken the_external_id_claim_is_documented_as_one_the_customer_cannot_change 'the warning lost "read-only"' \
    's/makes them read-only/makes them immutable/'
broken the_external_id_claim_is_documented_as_one_the_customer_cannot_change 'the warning lost "cannot change"' \
    's/a claim the customer cannot change/a stable claim/'

# --- the secret and the IAM policies
broken the_secret_is_the_created_one_or_exactly_the_given_arn 'CreateSecret inverted' \
    's/CreateSecret: !Equals \[!Ref OmniLabSecretArn, ""\]/CreateSecret: !Not [!Equals [!Ref OmniLabSecretArn, ""]]/'
broken the_secret_is_the_created_one_or_exactly_the_given_arn 'the secret is created even with an ARN' \
    's/    Condition: CreateSecret\n//'
broken the_secret_is_the_created_one_or_exactly_the_given_arn 'the functions read the other branch' \
    's/OMNILAB_SECRET_ID: !If \[CreateSecret, !Ref OmniLabSecret, !Ref OmniLabSecretArn\]/OMNILAB_SECRET_ID: !If [CreateSecret, !Ref OmniLabSecretArn, !Ref OmniLabSecret]/'
broken the_secret_is_the_created_one_or_exactly_the_given_arn 'the output names only the given ARN' \
    's/Value: !If \[CreateSecret, !Ref OmniLabSecret, !Ref OmniLabSecretArn\]/Value: !Ref OmniLabSecretArn/'
broken the_secret_is_the_created_one_or_exactly_the_given_arn 'the ARN parameter no longer says both forms work' \
    's/Either form is accepted/Give the full ARN/'
broken the_created_secret_holds_placeholders_only 'a real-looking client secret' \
    's/"client_secret":"REPLACE_ME"/"client_secret":"s3cr3t"/'
broken the_created_secret_holds_placeholders_only 'a generated secret' \
    's/(      SecretString: [^\n]*\n)/$1      GenerateSecretString: {}\n/'
broken policies_are_inline_narrow_statements 'a role of its own' \
    's/(      CodeUri: \.\n)/$1      Role: !Sub "arn:aws:iam::\${AWS::AccountId}:role\/admin"\n/'
broken policies_are_inline_narrow_statements 'a trust policy in Globals' \
    's/(    Tracing: Active\n)/$1    AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: "*"}, Action: "sts:*"}]}\n/'
broken policies_are_inline_narrow_statements 'a managed policy' \
    's/(      Policies:\n)/$1        - AWSLambdaBasicExecutionRole\n/'
broken policies_are_inline_narrow_statements 'a SAM policy template' \
    's/(      Policies:\n)/$1        - DynamoDBReadPolicy: {TableName: bookings}\n/'
broken policies_are_inline_narrow_statements 'another statement on Resource *' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: logs:PutLogEvents\n              Resource: "*"\n/'
broken policies_are_inline_narrow_statements 'another statement on a wildcard ARN' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: logs:PutLogEvents\n              Resource: !Sub "arn:aws:logs:\${AWS::Region}:\${AWS::AccountId}:*"\n/'
broken policies_are_inline_narrow_statements 'a wildcard action' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: "logs:*"\n              Resource: !GetAtt ListBookingsLogGroup.Arn\n/'
broken policies_are_inline_narrow_statements 'a NotAction statement' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              NotAction: iam:PassRole\n              Resource: !GetAtt ListBookingsLogGroup.Arn\n/'
broken policies_are_inline_narrow_statements 'a Deny statement' \
    's/(        - Statement:\n)/$1            - Effect: Deny\n              Action: logs:DeleteLogGroup\n              Resource: !GetAtt ListBookingsLogGroup.Arn\n/'
broken policies_are_inline_narrow_statements 'the KMS statement on any key' \
    's/(                Action: kms:Decrypt\n                Resource: )!Ref OmniLabSecretKmsKeyArn/$1"*"/'
broken each_function_may_read_only_its_one_secret 'a suffix wildcard (-*)' \
    's/\$\{OmniLabSecretArn\}-\?\?\?\?\?\?/\${OmniLabSecretArn}-*/'
broken each_function_may_read_only_its_one_secret 'the suffixed ARN not granted' \
    's/- \[!Ref OmniLabSecretArn, !Sub "\$\{OmniLabSecretArn\}-\?\?\?\?\?\?"\]/- !Ref OmniLabSecretArn/'
broken each_function_may_read_only_its_one_secret 'PutSecretValue too' \
    's/Action: secretsmanager:GetSecretValue/Action: [secretsmanager:GetSecretValue, secretsmanager:PutSecretValue]/'
broken each_function_may_read_only_its_one_secret 'a second Secrets Manager statement' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: secretsmanager:DescribeSecret\n              Resource: !Ref OmniLabSecret\n/'
broken a_customer_managed_key_may_be_used_only_through_secrets_manager 'Decrypt from anywhere' \
    's/                Condition:\n                  StringEquals:\n                    kms:ViaService: [^\n]*\n//'
broken a_customer_managed_key_may_be_used_only_through_secrets_manager 'Encrypt too' \
    's/Action: kms:Decrypt/Action: [kms:Decrypt, kms:Encrypt]/'
broken a_customer_managed_key_may_be_used_only_through_secrets_manager 'a hard-coded region' \
    's/kms:ViaService: !Sub "secretsmanager.\$\{AWS::Region\}.amazonaws.com"/kms:ViaService: secretsmanager.eu-west-1.amazonaws.com/'
broken a_customer_managed_key_may_be_used_only_through_secrets_manager 'HasSecretKmsKey inverted' \
    's/HasSecretKmsKey: !Not \[!Equals \[!Ref OmniLabSecretKmsKeyArn, ""\]\]/HasSecretKmsKey: !Equals [!Ref OmniLabSecretKmsKeyArn, ""]/'
broken without_a_key_no_kms_permission_exists 'a key by default' \
    's/(  OmniLabSecretKmsKeyArn:\n    Type: String\n    Default: )""/${1}arn:aws:kms:eu-west-1:000000000000:key\/default/'
broken without_a_key_no_kms_permission_exists 'the KMS statement on CreateSecret' \
    's/(            - !If\n              - )HasSecretKmsKey/${1}CreateSecret/'
broken without_a_key_no_kms_permission_exists 'a KMS grant in the other branch' \
    's/(                    kms:ViaService: [^\n]*\n              - )!Ref AWS::NoValue/${1}{Effect: Allow, Action: kms:DescribeKey, Resource: !Ref OmniLabSecretKmsKeyArn}/'
broken without_a_key_no_kms_permission_exists 'an unconditional KMS statement' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: kms:DescribeKey\n              Resource: !Ref OmniLabSecret\n/'

# --- the token table and the grants on it
broken the_token_table_is_one_table_keyed_by_pk_only 'a second table' \
    's/\nOutputs:/\n  OtherTable:\n    Type: AWS::DynamoDB::Table\n\nOutputs:/'
broken the_token_table_is_one_table_keyed_by_pk_only 'the table only under a condition' \
    's/(  OmniLabTokenTable:\n    Type: AWS::DynamoDB::Table\n)/$1    Condition: CreateSecret\n/'
broken the_token_table_is_one_table_keyed_by_pk_only 'a sort key' \
    's/(          AttributeType: S\n)/$1        - AttributeName: sk\n          AttributeType: S\n/; s/(          KeyType: HASH\n)/$1        - AttributeName: sk\n          KeyType: RANGE\n/'
broken the_token_table_is_one_table_keyed_by_pk_only 'another partition key' \
    's/(        - AttributeName: )pk(\n          KeyType: HASH\n)/${1}id$2/'
broken the_token_table_is_one_table_keyed_by_pk_only 'pk a number' \
    's/(        - AttributeName: pk\n          AttributeType: )S/${1}N/'
broken the_token_table_is_one_table_keyed_by_pk_only 'a fixed TableName' \
    's/(      BillingMode: PAY_PER_REQUEST\n)/      TableName: omnilab-tokens\n$1/'
broken the_token_table_is_one_table_keyed_by_pk_only 'a resource policy granting dynamodb:* to anyone' \
    's/(      BillingMode: PAY_PER_REQUEST\n)/$1      ResourcePolicy: {PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "dynamodb:*", Resource: "*"}]}}\n/'
broken the_token_table_is_one_table_keyed_by_pk_only 'point-in-time recovery' \
    's/(      BillingMode: PAY_PER_REQUEST\n)/$1      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}\n/'
broken the_token_table_is_one_table_keyed_by_pk_only 'a stream' \
    's/(      BillingMode: PAY_PER_REQUEST\n)/$1      StreamSpecification: {StreamViewType: NEW_IMAGE}\n/'
broken the_token_table_is_one_table_keyed_by_pk_only 'a global secondary index' \
    's/(      BillingMode: PAY_PER_REQUEST\n)/$1      GlobalSecondaryIndexes: [{IndexName: by-owner, KeySchema: [{AttributeName: lease_owner, KeyType: HASH}], Projection: {ProjectionType: ALL}}]\n/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'PROVISIONED billing' \
    's/BillingMode: PAY_PER_REQUEST\n/BillingMode: PROVISIONED\n      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}\n/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'SSE off' \
    's/SSEEnabled: true/SSEEnabled: false/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'no SSESpecification' \
    's/      SSESpecification:\n        SSEEnabled: true\n//'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'a customer-managed key' \
    's/(        SSEEnabled: true\n)/$1        SSEType: KMS\n        KMSMasterKeyId: alias\/omnilab-tokens\n/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'TTL off' \
    's/(        AttributeName: ttl\n        Enabled: )true/${1}false/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'TTL on another attribute' \
    's/AttributeName: ttl\n/AttributeName: expires_at\n/'
broken the_token_table_is_on_demand_encrypted_and_expires_its_items 'no TTL' \
    's/      TimeToLiveSpecification:\n        AttributeName: ttl\n        Enabled: true\n//'
broken the_token_table_goes_with_the_stack 'DeletionPolicy Retain' \
    's/(    Type: AWS::DynamoDB::Table\n(?:    #[^\n]*\n)*    DeletionPolicy: )Delete/${1}Retain/'
broken the_token_table_goes_with_the_stack 'DeletionPolicy Snapshot' \
    's/(    Type: AWS::DynamoDB::Table\n(?:    #[^\n]*\n)*    DeletionPolicy: )Delete/${1}Snapshot/'
broken the_token_table_goes_with_the_stack 'UpdateReplacePolicy Retain' \
    's/(    Type: AWS::DynamoDB::Table\n(?:    #[^\n]*\n)*    DeletionPolicy: Delete\n    UpdateReplacePolicy: )Delete/${1}Retain/'
broken both_functions_and_the_outputs_name_the_token_table 'no OMNILAB_TOKEN_TABLE' \
    's/        OMNILAB_TOKEN_TABLE: [^\n]*\n//'
broken both_functions_and_the_outputs_name_the_token_table 'a hard-coded table name' \
    's/OMNILAB_TOKEN_TABLE: !Ref OmniLabTokenTable/OMNILAB_TOKEN_TABLE: omnilab-tokens/'
broken both_functions_and_the_outputs_name_the_token_table 'the table ARN instead of its name' \
    's/OMNILAB_TOKEN_TABLE: !Ref OmniLabTokenTable/OMNILAB_TOKEN_TABLE: !GetAtt OmniLabTokenTable.Arn/'
broken both_functions_and_the_outputs_name_the_token_table 'the output names another resource' \
    's/(  TokenTableName:\n    Description: [^\n]*\n    Value: )!Ref OmniLabTokenTable/${1}!Ref ListBookingsFunction/'
broken both_functions_and_the_outputs_name_the_token_table 'no TokenTableName output' \
    's/  TokenTableName:\n    Description: [^\n]*\n    Value: [^\n]*\n//'
broken each_function_may_only_get_put_and_update_the_token_table 'dynamodb:*' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: "dynamodb:*"/'
broken each_function_may_only_get_put_and_update_the_token_table 'every action (*) on the table' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: "*"/'
broken each_function_may_only_get_put_and_update_the_token_table 'an extra dynamodb:Scan' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:Scan]/'
broken each_function_may_only_get_put_and_update_the_token_table 'DeleteItem instead of UpdateItem' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:DeleteItem]/'
broken each_function_may_only_get_put_and_update_the_token_table 'UpdateItem missing' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: [dynamodb:GetItem, dynamodb:PutItem]/'
broken each_function_may_only_get_put_and_update_the_token_table 'Resource "*"' \
    's/(              Action: \[dynamodb:[^\n]*\n              Resource: )!GetAtt OmniLabTokenTable.Arn/$1"*"/'
broken each_function_may_only_get_put_and_update_the_token_table 'the table and its indexes' \
    's/(              Action: \[dynamodb:[^\n]*\n              Resource: )!GetAtt OmniLabTokenTable.Arn/$1\[!GetAtt OmniLabTokenTable.Arn, !Sub "\${OmniLabTokenTable.Arn}\/index\/*"\]/'
broken each_function_may_only_get_put_and_update_the_token_table 'every table of the account' \
    's/(              Action: \[dynamodb:[^\n]*\n              Resource: )!GetAtt OmniLabTokenTable.Arn/$1!Sub "arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table\/*"/'
broken each_function_may_only_get_put_and_update_the_token_table 'a second DynamoDB statement (Query)' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: dynamodb:Query\n              Resource: !GetAtt OmniLabTokenTable.Arn\n/'
broken each_function_may_only_get_put_and_update_the_token_table 'a DynamoDB action in capitals on another resource' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: DynamoDB:Scan\n              Resource: !Ref OmniLabSecret\n/'
broken each_function_may_only_get_put_and_update_the_token_table 'a function without the table statement' \
    's/            - Sid: UseOmniLabTokenStore\n(              [^\n]*\n){3}//'

# --- the stage
broken stage_is_throttled_and_access_logs_carry_no_credentials 'a hard-coded rate limit' \
    's/ThrottlingRateLimit: !Ref ThrottlingRateLimit/ThrottlingRateLimit: 50/'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'a burst limit of 0 by default' \
    's/(  ThrottlingBurstLimit:\n    Type: Number\n    Default: )100/${1}0/'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'access logs to a function' \
    's/DestinationArn: !GetAtt ApiAccessLogGroup.Arn/DestinationArn: !GetAtt ListBookingsFunction.Arn/'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'access logs kept forever' \
    's/(\/access"\n)      RetentionInDays: !Ref LogRetentionInDays\n/$1/'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'the JWT claims logged' \
    's/"sourceIp":"\$context.identity.sourceIp"/"sourceIp":"\$context.identity.sourceIp","customer":"\$context.authorizer.claims.sub"/'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'no routeKey logged' 's/"routeKey":"\$context.routeKey",//'
broken stage_is_throttled_and_access_logs_carry_no_credentials 'a format that is not JSON' \
    's/\{"requestId":"\$context.requestId",/\$context.requestId {/'
broken outputs_expose_the_api_url 'the URL names another resource' \
    's/https:\/\/\$\{HttpApi\}.execute-api/https:\/\/\${ListBookingsFunction}.execute-api/'
broken outputs_expose_the_api_url 'the URL is not the execute-api one' \
    's/"https:\/\/\$\{HttpApi\}.execute-api.\$\{AWS::Region\}.\$\{AWS::URLSuffix\}\/"/"https:\/\/api.example-brand.com\/"/'

# --- alarms, the dashboard and the saved queries
broken every_alarm_says_what_is_wrong_and_what_to_look_at_first 'an alarm without a description' \
    's/      AlarmDescription: >-\n(        [^\n]*\n)+//'
broken every_alarm_says_what_is_wrong_and_what_to_look_at_first 'a description that says not where to look' \
    's/First look at: /Check /'
broken every_alarm_says_what_is_wrong_and_what_to_look_at_first 'a description longer than CloudWatch keeps' \
    's/(First look at: )/$1 . ("the logs, " x 110)/e'
broken every_alarm_says_what_is_wrong_and_what_to_look_at_first 'missing data left to the default' \
    's/      TreatMissingData: notBreaching\n//'
broken alarms_notify_only_the_optional_topic 'an alarm notifying a hard-coded topic' \
    's/AlarmActions: \[!If \[HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue\], !If \[HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue\]\]/AlarmActions: [!Sub "arn:aws:sns:\${AWS::Region}:\${AWS::AccountId}:ops"]/'
broken alarms_notify_only_the_optional_topic 'an alarm that also reboots an instance' \
    's/AlarmActions: \[!If \[HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue\], !If \[HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue\]\]/AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue], !If [HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue], !Sub "arn:aws:automate:\${AWS::Region}:ec2:reboot"]/'
broken alarms_notify_only_the_optional_topic 'notified even without a topic' \
    's/OKActions: \[!If \[HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue\], !If \[HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue\]\]/OKActions: [!Ref AlarmTopicArn, !If [HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue]]/'
broken alarms_notify_only_the_optional_topic 'no OK notification' \
    's/      OKActions: [^\n]*\n//'
broken alarms_notify_only_the_optional_topic 'INSUFFICIENT_DATA notifications' \
    's/(      OKActions: [^\n]*\n)/$1      InsufficientDataActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n/'
broken alarms_notify_only_the_optional_topic 'actions disabled' \
    's/(      OKActions: [^\n]*\n)/$1      ActionsEnabled: false\n/'
broken alarms_notify_only_the_optional_topic 'a topic by default' \
    's/(  AlarmTopicArn:\n    Type: String\n    Default: )""/${1}arn:aws:sns:eu-west-1:000000000000:ops/'
broken alarms_notify_only_the_optional_topic 'HasAlarmTopic inverted' \
    's/HasAlarmTopic: !Not \[!Equals \[!Ref AlarmTopicArn, ""\]\]/HasAlarmTopic: !Equals [!Ref AlarmTopicArn, ""]/'
broken alarms_notify_only_the_optional_topic 'the topic parameter takes any ARN' \
    's/(  AlarmTopicArn:\n(?:    [^\n]*\n|      [^\n]*\n)*?    AllowedPattern: )[^\n]*/${1}"^\$|^arn:.*\$"/'
broken custom_metrics_are_read_from_the_namespace_parameter 'an alarm on a literal namespace' \
    's/Namespace: !Ref MetricsNamespace/Namespace: OmniLabBookings/'
broken custom_metrics_are_read_from_the_namespace_parameter 'an alarm on a namespace of its own making' \
    's/Namespace: !Ref MetricsNamespace/Namespace: !Sub "\${MetricsNamespace}\/alarms"/'
broken custom_metrics_are_read_from_the_namespace_parameter 'a plain alarm in the literal namespace' \
    's/(      Namespace: )AWS\/Lambda(\n      MetricName: )Errors/${1}OmniLabBookings${2}ColdStart/'
broken custom_metrics_are_read_from_the_namespace_parameter 'a widget on a literal namespace' \
    's/\["\$\{MetricsNamespace\}", "Requests"/["OmniLabBookings", "Requests"/'
broken custom_metrics_are_read_from_the_namespace_parameter 'a widget line in the "." shorthand' \
    's/(\["AWS\/ApiGateway", "Count"[^\n]*\n +)\["AWS\/ApiGateway"/${1}["."/'
broken custom_metrics_are_read_from_the_namespace_parameter 'METRICS_NAMESPACE hard-coded' \
    's/METRICS_NAMESPACE: !Ref MetricsNamespace/METRICS_NAMESPACE: OmniLabBookings/'
broken custom_metrics_are_read_from_the_namespace_parameter 'no METRICS_NAMESPACE' \
    's/        METRICS_NAMESPACE: [^\n]*\n//'
broken custom_metrics_are_read_from_the_namespace_parameter 'a namespace that may start with AWS/' \
    's/AllowedPattern: "\^\(\?!AWS\/\)/AllowedPattern: "^/'
broken custom_metrics_are_read_from_the_namespace_parameter 'another default namespace' \
    's/(  MetricsNamespace:\n    Type: String\n    Default: )OmniLabBookings/${1}Bookings/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'a REST API metric name (5XXError)' \
    's/MetricName: 5xx/MetricName: 5XXError/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'an API alarm on a literal API id' \
    's/(                - Name: ApiId\n                  Value: )!Ref HttpApi/${1}a1b2c3d4e5/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'an alarm on a literal function name' \
    's/(MetricName: Errors\n      Dimensions:\n        - Name: FunctionName\n          Value: )!Ref ListBookingsFunction/${1}omnilab-bookings-prod-list-bookings/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'a Lambda alarm on a log group' \
    's/(MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref )ListBookingsFunction/${1}ListBookingsLogGroup/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'a Lambda alarm by another dimension' \
    's/(MetricName: Throttles\n      Dimensions:\n        - Name: )FunctionName/${1}Resource/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'concurrency of a function of another stack' \
    's/(MetricName: ConcurrentExecutions\n              Dimensions:\n                - Name: FunctionName\n                  Value: )!Ref ListBookingsFunction/${1}other-function/'
broken alarms_on_aws_metrics_name_this_stacks_api_and_functions 'a Lambda metric that does not exist' \
    's/MetricName: Throttles/MetricName: Throttled/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'no throttles alarm for cancel-booking' \
    's/  CancelBookingThrottlesAlarm:\n.*?\n\n//s'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'both errors alarms on one function' \
    's/(MetricName: Errors\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref )CancelBookingFunction/${1}ListBookingsFunction/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'errors alarmed on only from 5' \
    's/(      MetricName: Errors\n(?:      [^\n]*\n)*?      Threshold: )0/${1}5/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'a p99 duration alarm at the timeout' \
    's/Threshold: 8000/Threshold: 10000/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'a longer timeout, the duration alarms left at 8 s' \
    's/Timeout: 10\n/Timeout: 20\n/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'p90 instead of p99' \
    's/ExtendedStatistic: p99/ExtendedStatistic: p90/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'concurrency against a literal reservation' \
    's/!Sub "100 \* concurrency \/ \$\{ReservedConcurrentExecutions\}"/"100 * concurrency \/ 20"/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'concurrency alarm at 120 %' \
    's/(      Threshold: )80\n/${1}120\n/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'no 5xx rate alarm' \
    's/MetricName: 5xx/MetricName: 4xx/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'no alarm for the token endpoint' \
    's/  TokenEndpointFailureRateAlarm:\n.*?\n\n//s'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'token exchange failures of one route only' \
    's/(MetricName: TokenExchangeFailures\n              Dimensions:\n                - Name: Route\n                  Value: )cancel-booking/${1}list-bookings/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'token exchanges of one route only' \
    's/(MetricName: TokenExchanges\n              Dimensions:\n                - Name: Route\n                  Value: )cancel-booking/${1}list-bookings/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'a hard-coded hourly threshold' \
    's/Threshold: !Ref TokenExchangesPerHourThreshold/Threshold: 60/'
broken the_alarms_cover_the_api_the_functions_and_omnilab 'token exchanges per 5 minutes' \
    's/Period: 3600/Period: 300/g'
broken the_dashboard_and_the_three_saved_queries_exist 'no dashboard' \
    's/  OperationsDashboard:\n.*?\n\n//s'
broken the_dashboard_and_the_three_saved_queries_exist 'an alarm missing from the alarm widget' \
    's/, "\$\{TokenExchangesPerHourAlarm\.Arn\}"//'
broken the_dashboard_and_the_three_saved_queries_exist 'an alarm widget naming a function' \
    's/"\$\{TokenExchangesPerHourAlarm\.Arn\}"/"\${ListBookingsFunction.Arn}"/'
broken the_dashboard_and_the_three_saved_queries_exist 'a widget in a hard-coded region' \
    's/"region": "\$\{AWS::Region\}"/"region": "eu-west-1"/'
broken the_dashboard_and_the_three_saved_queries_exist 'a dashboard body without !Sub (nothing substituted)' \
    's/DashboardBody: !Sub \|/DashboardBody: |/'
broken the_dashboard_and_the_three_saved_queries_exist 'a query on one function only' \
    's/(  FailingRequestsQuery:\n(?:    [^\n]*\n)*?        - !Ref ListBookingsLogGroup\n)        - !Ref CancelBookingLogGroup\n/$1/'
broken the_dashboard_and_the_three_saved_queries_exist 'the upstream latency query dropped' \
    's/  UpstreamLatencyQuery:\n.*?\n\n//s'
broken the_dashboard_and_the_three_saved_queries_exist 'a query outside the stack folder' \
    's/Name: !Sub "\$\{AWS::StackName\}\/one-request-by-id"/Name: one-request-by-id/'
broken the_dashboard_and_the_three_saved_queries_exist 'the failing-requests query not on the request line' \
    's/fields\.message = "request"/fields.msg = "request"/'
broken the_dashboard_and_the_three_saved_queries_exist 'the failing-requests query without the problem type' \
    's/, fields\.problem as problem//; s/ by route, status, problem\n/ by route, status\n/'
broken the_dashboard_and_the_three_saved_queries_exist 'the by-id query without the access log' \
    's/        - !Ref ApiAccessLogGroup\n//'
broken the_dashboard_and_the_three_saved_queries_exist 'the latency query not by endpoint' \
    's/ by Endpoint\n/ by Kind\n/'

# --- shipping it: gradual deploys, the AlarmEmail topic, the uat/prod Rule
broken only_resource_kinds_whose_permissions_are_reviewed 'a topic policy opening the alarm topic to everyone' \
    's/\nOutputs:/\n  OpenTopicPolicy:\n    Type: AWS::SNS::TopicPolicy\n    Properties:\n      Topics: [!Ref AlarmEmailTopic]\n      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "sns:Publish", Resource: "*"}]}\n\nOutputs:/'
broken alarms_notify_only_the_optional_topic 'alarms do not notify the AlarmEmail topic' \
    's/, !If \[HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue\]\]/]/'
broken each_function_deploys_gradually_behind_the_live_alias 'no alias on one function (the route invokes $LATEST)' \
    's/      AutoPublishAlias: live\n//'
broken each_function_deploys_gradually_behind_the_live_alias 'a hard-coded all-at-once deployment' \
    's/        Type: !Ref DeploymentType\n/        Type: AllAtOnce\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'a canary by default (dev would wait minutes per deploy)' \
    's/(  DeploymentType:\n    Type: String\n    Default: )AllAtOnce/${1}Canary10Percent5Minutes/'
broken each_function_deploys_gradually_behind_the_live_alias 'a rollback on the errors alarm of every version (an outage rolls the fix back)' \
    's/          - !Ref ListBookingsCanaryAlarm\n/          - !Ref ListBookingsErrorsAlarm\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'a rollback on the other function'"'"'s canary' \
    's/          - !Ref CancelBookingCanaryAlarm\n/          - !Ref ListBookingsCanaryAlarm\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'no rollback trigger on one function' \
    's/        Alarms:\n          - !Ref CancelBookingCanaryAlarm\n//'
broken each_function_deploys_gradually_behind_the_live_alias 'a canary judging a fixed version' \
    's/                  Value: !GetAtt ListBookingsFunction.Version.Version\n                - Name: StatusClass\n                  Value: 5xx/                  Value: "1"\n                - Name: StatusClass\n                  Value: 5xx/'
broken each_function_deploys_gradually_behind_the_live_alias 'a canary judging the other function'"'"'s version' \
    's/(                - Name: ExecutedVersion\n                  Value: !GetAtt )CancelBookingFunction/${1}ListBookingsFunction/'
broken each_function_deploys_gradually_behind_the_live_alias 'a canary counting the crashes of every version' \
    's/                - Name: Resource\n                  Value: !Sub "\$\{ListBookingsFunction\}:live"\n                - Name: ExecutedVersion\n                  Value: !GetAtt ListBookingsFunction.Version.Version\n//'
broken each_function_deploys_gradually_behind_the_live_alias 'a canary counting 4xx answers as the rest'"'"'s 5xx' \
    's/(                  Value: cancel-booking\n                - Name: StatusClass\n                  Value: )5xx/${1}4xx/'
broken each_function_deploys_gradually_behind_the_live_alias 'the functions'"'"' 5xx rate counting 4xx answers' \
    's/(    Properties:\n      AlarmName: !Sub "\$\{AWS::StackName\}-function-5xx-rate"[\s\S]*?                  Value: cancel-booking\n                - Name: StatusClass\n                  Value: )5xx/${1}4xx/'
broken each_function_deploys_gradually_behind_the_live_alias 'gradual deploys switched off' \
    's/(        Type: !Ref DeploymentType\n)/$1        Enabled: false\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'a rollback on a hard-coded alarm name' \
    's/          - !Ref CancelBookingCanaryAlarm\n/          - some-other-alarm\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'a pre-traffic hook' \
    's/(        Type: !Ref DeploymentType\n)/$1        Hooks:\n          PreTraffic: !Ref Other\n/'
broken each_function_deploys_gradually_behind_the_live_alias 'CodeDeploy on the role SAM would make (no boundary)' \
    's/        Role: !GetAtt CodeDeployRole.Arn\n//'
broken each_function_deploys_gradually_behind_the_live_alias 'CodeDeploy on a role outside the stack' \
    's/        Role: !GetAtt CodeDeployRole.Arn\n/        Role: arn:aws:iam::111122223333:role\/admin\n/'
# --- the custom domain
broken the_custom_domain_is_optional_and_tls_1_2 'TLS 1.0 allowed on the custom domain' \
    's/SecurityPolicy: TLS_1_2/SecurityPolicy: TLS_1_0/'
broken the_custom_domain_is_optional_and_tls_1_2 'the custom domain created without its parameter' \
    's/(  CustomDomain:\n    Type: AWS::ApiGatewayV2::DomainName\n)    Condition: HasCustomDomain\n/$1/'
broken the_custom_domain_is_optional_and_tls_1_2 'a custom domain on by default' \
    's/(  CustomDomainName:\n    Type: String\n    Default: )""/$1"bookings-api.example-brand.com"/'
broken the_custom_domain_is_optional_and_tls_1_2 'an edge-optimized domain' \
    's/EndpointType: REGIONAL/EndpointType: EDGE/'
broken the_custom_domain_is_optional_and_tls_1_2 'the API mapped under a path only' \
    's/(      ApiId: !Ref HttpApi\n)(      Stage: !Ref HttpApi.Stage\n)/$1$2      ApiMappingKey: v1\n/'
broken the_custom_domain_is_optional_and_tls_1_2 'a record pointing somewhere else' \
    's/(          Type: AAAA\n          AliasTarget:\n            DNSName: )!GetAtt CustomDomain.RegionalDomainName/${1}elsewhere.example.com/'
broken the_custom_domain_is_optional_and_tls_1_2 'records written into the zone without one given' \
    's/(  CustomDomainRecords:\n    Type: AWS::Route53::RecordSetGroup\n    Condition: )HasCustomDomainRecords/${1}HasCustomDomain/'
# --- the permissions boundary
broken every_role_carries_the_permissions_boundary 'the functions'"'"' roles without the boundary' \
    's/    PermissionsBoundary: !If \[HasPermissionsBoundary, !Ref PermissionsBoundaryArn, !Ref AWS::NoValue\]\n    # Caps/    # Caps/'
broken every_role_carries_the_permissions_boundary 'one function'"'"'s role without the boundary' \
    's/(      CodeUri: \.\n)/$1      PermissionsBoundary: !Ref AWS::NoValue\n/'
broken every_role_carries_the_permissions_boundary 'CodeDeploy'"'"'s role without the boundary' \
    's/(        - !Sub "arn:\$\{AWS::Partition\}:iam::aws:policy\/service-role\/AWSCodeDeployRoleForLambda"\n)      PermissionsBoundary: [^\n]*\n/$1/'
broken every_role_carries_the_permissions_boundary 'CodeDeploy'"'"'s role with AdministratorAccess' \
    's/(        - !Sub "arn:\$\{AWS::Partition\}:iam::aws:policy\/service-role\/AWSCodeDeployRoleForLambda"\n)/$1        - arn:aws:iam::aws:policy\/AdministratorAccess\n/'
broken every_role_carries_the_permissions_boundary 'CodeDeploy'"'"'s role assumable by Lambda too' \
    's/              Service: codedeploy.amazonaws.com\n/              Service: [codedeploy.amazonaws.com, lambda.amazonaws.com]\n/'
broken every_role_carries_the_permissions_boundary 'the boundary on by default (a deploy by hand without the pipeline fails)' \
    's/(  PermissionsBoundaryArn:\n    Type: String\n    Default: )""/$1"arn:aws:iam::111122223333:policy\/boundary"/'
broken the_alarm_email_topic_mails_only_the_given_address 'the topic created without an address' \
    's/(  AlarmEmailTopic:\n    Type: AWS::SNS::Topic\n)    Condition: HasAlarmEmail\n/$1/'
broken the_alarm_email_topic_mails_only_the_given_address 'a hard-coded address' \
    's/      Endpoint: !Ref AlarmEmail/      Endpoint: ops\@example.com/'
broken the_alarm_email_topic_mails_only_the_given_address 'alarms forwarded to a URL' \
    's/      Protocol: email\n/      Protocol: https\n/'
broken the_alarm_email_topic_mails_only_the_given_address 'a second topic' \
    's/\nOutputs:/\n  OtherTopic:\n    Type: AWS::SNS::Topic\n\nOutputs:/'
broken uat_and_prod_alarms_reach_someone 'the Rule dropped' \
    's/  AlarmsReachSomeoneOutsideDev:\n.*?\n\n/\n/s'
broken uat_and_prod_alarms_reach_someone 'the Rule satisfied by a topic alone' \
    's/      - Assert: !Or\n          - !Not \[!Equals \[!Ref AlarmTopicArn, ""\]\]\n          - !Not \[!Equals \[!Ref AlarmEmail, ""\]\]\n/      - Assert: !Not [!Equals [!Ref AlarmTopicArn, ""]]\n/'
broken uat_and_prod_alarms_reach_someone 'the Rule applies to prod only' \
    's/(  AlarmsReachSomeoneOutsideDev:\n    RuleCondition: )!Not \[!Equals \[!Ref OmniLabEnvironment, dev\]\]/${1}!Equals [!Ref OmniLabEnvironment, prod]/'

# --- changes the rules must accept
allowed 'methods in lower case' 's/Method: GET/Method: get/; s/AllowMethods: \[GET, POST, OPTIONS\]/AllowMethods: [options, get, post]/'
allowed 'a function may log to its own group (a statement on a stack resource)' \
    's/(        - Statement:\n)/$1            - Effect: Allow\n              Action: logs:PutLogEvents\n              Resource: !GetAtt ListBookingsLogGroup.Arn\n/'
allowed 'the table actions in another order, without a Sid' \
    's/Action: \[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem\]/Action: [dynamodb:UpdateItem, dynamodb:GetItem, dynamodb:PutItem]/g; s/            - Sid: UseOmniLabTokenStore\n              Effect/            - Effect/g'
allowed 'CodeUri ./, a 29 s timeout and the duration alarms at 80 % of it' \
    's/CodeUri: \./CodeUri: .\//g; s/Timeout: 10/Timeout: 29/; s/Threshold: 8000/Threshold: 23200/g'
allowed 'the alarm topic named otherwise' 's/DisplayName: !Sub "\$\{AWS::StackName\} alarms"/DisplayName: !Sub "\${AWS::StackName} alerts"/'
allowed 'missing data treated as breaching' \
    's/TreatMissingData: notBreaching/TreatMissingData: breaching/'
allowed 'the dashboard renamed, an errors alarm over one minute' \
    's/DashboardName: !Ref AWS::StackName/DashboardName: !Sub "\${AWS::StackName}-ops"/; s/(      MetricName: Errors\n(?:      [^\n]*\n)*?      Period: )300/${1}60/'
allowed 'a plain alarm on a custom metric, read from the parameter, on the dashboard' \
    's/(\n  OperationsDashboard:)/\n  ColdStartsAlarm:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n      AlarmDescription: "Many cold starts of list-bookings in 5 minutes. First look at: the Cold starts widget, then the deployments."\n      Namespace: !Ref MetricsNamespace\n      MetricName: ColdStart\n      Dimensions: [{Name: Route, Value: list-bookings}]\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 50\n      ComparisonOperator: GreaterThanThreshold\n      TreatMissingData: notBreaching\n      AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue], !If [HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue]]\n      OKActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue], !If [HasAlarmEmail, !Ref AlarmEmailTopic, !Ref AWS::NoValue]]\n$1/; s/("\$\{TokenExchangesPerHourAlarm\.Arn\}")/$1, "\${ColdStartsAlarm.Arn}"/'

for rule in $(sed -n 's/^rule \([a-z0-9_]*\) .*/\1/p' "$rules"); do
    [[ "$exercised" == *" $rule "* ]] || die "no broken copy of template.yaml is rejected by $rule: add one"
done
echo "broken copies: $rejected rejected, each by the rule it breaks; $allowed harmless changes accepted"
