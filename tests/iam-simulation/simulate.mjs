// What the deploy role and the stack's roles can do, decided by an IAM policy simulator
// (@cloud-copilot/iam-simulate: identity policies, permissions boundaries, explicit denies and
// every condition operator, each request's action, resource and context keys checked against
// AWS's service reference) over the policies policies.py resolves for one example stage.
//
// Each case is one request a principal might make and the decision IAM must reach: the privilege
// escalation through the application stack's roles refused in every form, and everything a deploy,
// the functions and CodeDeploy need still allowed. The AWS managed policies SAM and the template
// attach are in aws-managed-policies.json.
//
//   .venv/bin/python tests/iam-simulation/policies.py | node tests/iam-simulation/simulate.mjs
//
// Run by scripts/check-template.sh: with the placeholder secret and no custom domain, and with an
// existing secret and a custom domain.

import { readFileSync } from 'node:fs'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const stage = JSON.parse(readFileSync(0, 'utf8'))
const managed = JSON.parse(readFileSync(new URL('./aws-managed-policies.json', import.meta.url), 'utf8'))
const { account, region, stack, boundary } = stage.example
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess'

const role = (name) => `arn:aws:iam::${account}:role/${name}`
const managedArn = (name) => `arn:aws:iam::aws:policy/${name}`
const stackRole = (logicalId) => stage.stackRoles[logicalId].arn
const functionArn = (logicalId) => stage.functions[logicalId].arn
const logStream = (logicalId) =>
  `arn:aws:logs:${region}:${account}:log-group:${stage.functions[logicalId].logGroup}:log-stream:2026/12/07/[$LATEST]0123abcd`
const everything = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }

// The principals: the deploy role's session, a role of the stack as the template gives it, and a
// role of the stack after the escalation wrote `*:*` into it (what the boundary must still hold).
const deployer = {
  principal: `arn:aws:sts::${account}:assumed-role/${stage.example.deployRole.split('/').pop()}/GitHubActions`,
  identityPolicies: stage.deployRole.inlinePolicies,
  boundaries: [],
}
function asDeployed(logicalId) {
  const r = stage.stackRoles[logicalId]
  if (r.permissionsBoundary !== boundary) {
    throw new Error(`${logicalId}'s boundary is ${r.permissionsBoundary}, not ${boundary}`)
  }
  const attached = r.managedPolicyArns.map((arn) => {
    if (!managed[arn]) throw new Error(`${logicalId} attaches ${arn}: add its document to aws-managed-policies.json`)
    return { name: arn.split('/').pop(), policy: managed[arn] }
  })
  return {
    principal: `arn:aws:sts::${account}:assumed-role/${r.arn.split('/').pop()}/session`,
    identityPolicies: [...r.inlinePolicies, ...attached],
    boundaries: [{ name: 'boundary', policy: stage.boundary }],
  }
}
function escalated(logicalId) {
  return { ...asDeployed(logicalId), identityPolicies: [{ name: 'escalated', policy: everything }] }
}

const ours = { 'iam:PermissionsBoundary': boundary }
const theirs = { 'iam:PermissionsBoundary': ADMIN }
const placeholderSecretTag = { 'aws:ResourceTag/aws:cloudformation:stack-name': stack }
const secretContext = stage.example.existingSecret ? {} : placeholderSecretTag
const otherSecret = `arn:aws:secretsmanager:${region}:${account}:secret:other-service/prod-XyZ123`
const otherTable = `arn:aws:dynamodb:${region}:${account}:table/orders`
const list = 'ListBookingsFunction'
const cancel = 'CancelBookingFunction'
const listRole = stage.functions[list].role
const [codeDeployRole] = stage.codeDeployRoles

// [who, action, resource, context, decision, what it shows]
const cases = [
  // The escalation, and every other way to give a role of the stack more than the boundary.
  [deployer, 'iam:PutRolePolicy', stackRole(listRole), {}, 'Denied', "write `*:*` into a function's role that has no boundary"],
  [deployer, 'iam:PutRolePolicy', stackRole(listRole), theirs, 'Denied', "write a policy into a function's role bounded by AdministratorAccess"],
  [deployer, 'iam:CreateRole', role(`${stack}-Admin`), {}, 'Denied', 'create a role of the stack without a boundary'],
  [deployer, 'iam:CreateRole', role(`${stack}-Admin`), theirs, 'Denied', 'create a role of the stack bounded by AdministratorAccess'],
  [deployer, 'iam:AttachRolePolicy', stackRole(listRole), { ...ours, 'iam:PolicyARN': ADMIN }, 'Denied', 'attach AdministratorAccess to a bounded role'],
  [deployer, 'iam:AttachRolePolicy', stackRole(listRole), { 'iam:PolicyARN': managedArn('service-role/AWSLambdaBasicExecutionRole') }, 'Denied', 'attach a policy to a role without the boundary'],
  [deployer, 'iam:UpdateAssumeRolePolicy', stackRole(listRole), {}, 'Denied', "let anyone assume a role without the boundary"],
  [deployer, 'iam:DeleteRolePermissionsBoundary', stackRole(listRole), ours, 'Denied', "remove a role's boundary"],
  [deployer, 'iam:PutRolePermissionsBoundary', stackRole(listRole), theirs, 'Denied', "swap a role's boundary for AdministratorAccess"],
  [deployer, 'iam:CreatePolicyVersion', boundary, {}, 'Denied', 'rewrite the boundary'],
  [deployer, 'iam:SetDefaultPolicyVersion', boundary, {}, 'Denied', 'switch the boundary to another version'],
  [deployer, 'iam:DeletePolicy', boundary, {}, 'Denied', 'delete the boundary'],
  [deployer, 'iam:PutRolePolicy', stage.example.deployRole, {}, 'Denied', 'give the deploy role more'],
  [deployer, 'iam:PassRole', role('AdminRole'), { 'iam:PassedToService': 'lambda.amazonaws.com' }, 'Denied', "pass a role outside the stack to a function"],
  [deployer, 'iam:PassRole', stackRole(listRole), { 'iam:PassedToService': 'ec2.amazonaws.com' }, 'Denied', 'pass a role of the stack to EC2'],
  // What a deploy still does: create, change and clean up the stack's roles, with the boundary.
  [deployer, 'iam:CreateRole', stackRole(listRole), ours, 'Allowed', "create a function's role with the boundary"],
  [deployer, 'iam:PutRolePolicy', stackRole(listRole), ours, 'Allowed', "write a function's policy on its bounded role"],
  [deployer, 'iam:AttachRolePolicy', stackRole(listRole), { ...ours, 'iam:PolicyARN': managedArn('service-role/AWSLambdaBasicExecutionRole') }, 'Allowed', 'attach the logging policy SAM attaches'],
  [deployer, 'iam:AttachRolePolicy', stackRole(codeDeployRole), { ...ours, 'iam:PolicyARN': managedArn('service-role/AWSCodeDeployRoleForLambda') }, 'Allowed', "attach CodeDeploy's policy"],
  [deployer, 'iam:PutRolePermissionsBoundary', stackRole(listRole), ours, 'Allowed', 'put the boundary on a role made before there was one'],
  [deployer, 'iam:DetachRolePolicy', role(`${stack}-CodeDeployServiceRole-OLD123`), { 'iam:PolicyARN': managedArn('service-role/AWSCodeDeployRoleForLambda') }, 'Allowed', "clean up SAM's old CodeDeploy role"],
  [deployer, 'iam:DeleteRole', role(`${stack}-CodeDeployServiceRole-OLD123`), {}, 'Allowed', "delete SAM's old CodeDeploy role"],
  [deployer, 'iam:PassRole', stackRole(listRole), { 'iam:PassedToService': 'lambda.amazonaws.com' }, 'Allowed', "pass a function its role"],
  [deployer, 'iam:PassRole', stackRole(codeDeployRole), { 'iam:PassedToService': 'codedeploy.amazonaws.com' }, 'Allowed', 'pass CodeDeploy its role'],
  [deployer, 'lambda:UpdateFunctionCode', functionArn(list), {}, 'Allowed', "ship a function's code"],
]

// Each function does what it needs under the boundary, and nothing more even with `*:*`.
for (const fn of [list, cancel]) {
  const fnRole = stage.functions[fn].role
  const secret = stage.example.existingSecret ? `${stage.example.secret}-AbCdEf` : stage.example.secret
  cases.push(
    [asDeployed(fnRole), 'secretsmanager:GetSecretValue', secret, secretContext, 'Allowed', 'read the OmniLab credentials'],
    [asDeployed(fnRole), 'dynamodb:GetItem', stage.example.table, {}, 'Allowed', 'read the shared token'],
    [asDeployed(fnRole), 'dynamodb:PutItem', stage.example.table, {}, 'Allowed', 'publish the shared token'],
    [asDeployed(fnRole), 'dynamodb:UpdateItem', stage.example.table, {}, 'Allowed', 'take the lease'],
    [asDeployed(fnRole), 'logs:CreateLogStream', logStream(fn), {}, 'Allowed', 'open its log stream'],
    [asDeployed(fnRole), 'logs:PutLogEvents', logStream(fn), {}, 'Allowed', 'write its logs'],
    [asDeployed(fnRole), 'xray:PutTraceSegments', '*', {}, 'Allowed', 'send its traces'],
    [asDeployed(fnRole), 'secretsmanager:GetSecretValue', otherSecret, { 'aws:ResourceTag/aws:cloudformation:stack-name': 'other-service' }, 'Denied', "read another application's secret"],
    [escalated(fnRole), 'secretsmanager:GetSecretValue', secret, secretContext, 'Allowed', 'escalated: still reads its own secret'],
    [escalated(fnRole), 'secretsmanager:GetSecretValue', otherSecret, { 'aws:ResourceTag/aws:cloudformation:stack-name': 'other-service' }, 'Denied', "escalated: another application's secret"],
    [escalated(fnRole), 'dynamodb:Scan', stage.example.table, {}, 'Denied', 'escalated: scan the token table'],
    [escalated(fnRole), 'dynamodb:GetItem', otherTable, {}, 'Denied', "escalated: another application's table"],
    [escalated(fnRole), 'iam:CreateUser', `arn:aws:iam::${account}:user/backdoor`, {}, 'Denied', 'escalated: create an IAM user'],
    [escalated(fnRole), 'iam:PutRolePolicy', stackRole(fnRole), ours, 'Denied', 'escalated: widen its own role'],
    [escalated(fnRole), 'sts:AssumeRole', role('OrganizationAccountAccessRole'), {}, 'Denied', 'escalated: assume another role'],
    [escalated(fnRole), 'lambda:UpdateFunctionCode', functionArn(fn), {}, 'Denied', 'escalated: replace its own code'],
    [escalated(fnRole), 's3:GetObject', `${stage.example.artifactsBucket}/omnilab-bookings-uat/template.yaml`, {}, 'Denied', 'escalated: read the deploy artifacts'],
    [escalated(fnRole), 'kms:Decrypt', `arn:aws:kms:${region}:${account}:key/ffffffff-ffff-ffff-ffff-ffffffffffff`, {}, 'Denied', 'escalated: decrypt outside Secrets Manager'],
  )
  if (stage.example.existingSecret) {
    cases.push([asDeployed(fnRole), 'kms:Decrypt', stage.example.secretKey, { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` }, 'Allowed', "decrypt the existing secret through Secrets Manager"])
  }
}
// CodeDeploy shifts the stack's aliases and reads the alarms, and nothing else its policy names.
cases.push(
  [asDeployed(codeDeployRole), 'lambda:UpdateAlias', `${functionArn(list)}:live`, {}, 'Allowed', 'shift the live alias'],
  [asDeployed(codeDeployRole), 'lambda:GetAlias', `${functionArn(cancel)}:live`, {}, 'Allowed', 'read the live alias'],
  [asDeployed(codeDeployRole), 'cloudwatch:DescribeAlarms', `arn:aws:cloudwatch:${region}:${account}:alarm:${stack}-list-bookings-canary`, {}, 'Allowed', 'read the rollback alarm'],
  [asDeployed(codeDeployRole), 'lambda:UpdateAlias', `arn:aws:lambda:${region}:${account}:function:payments:live`, {}, 'Denied', "shift another application's alias"],
  [asDeployed(codeDeployRole), 'sns:Publish', `arn:aws:sns:${region}:${account}:anything`, {}, 'Denied', 'publish anywhere (its managed policy allows it)'],
  [asDeployed(codeDeployRole), 'lambda:InvokeFunction', `arn:aws:lambda:${region}:${account}:function:CodeDeployHook_x`, {}, 'Denied', 'invoke a hook function (there are none)'],
)

// The custom domain: the deploy role may make it only regional with TLS 1.2, then touch that one
// name and, in its zone, only its A and AAAA records; without one, nothing of it. (Its API
// mappings are not simulated: the simulator's service data knows /domainnames/{name}/apimappings
// of API Gateway V2 as no resource type of apigateway:POST. bootstrap.guard checks their ARNs.)
const domains = `arn:aws:apigateway:${region}::/domainnames`
const tls12 = { 'apigateway:Request/SecurityPolicy': ['TLS_1_2'], 'apigateway:Request/EndpointType': ['REGIONAL'] }
const domain = stage.example.customDomain
if (domain) {
  const zone = `arn:aws:route53:::hostedzone/${stage.example.hostedZone}`
  const records = (names, types) => ({ 'route53:ChangeResourceRecordSetsNormalizedRecordNames': names, 'route53:ChangeResourceRecordSetsRecordTypes': types, 'route53:ChangeResourceRecordSetsActions': ['UPSERT'] })
  cases.push(
    [deployer, 'apigateway:POST', domains, tls12, 'Allowed', 'create the custom domain, regional with TLS 1.2'],
    [deployer, 'apigateway:POST', domains, { ...tls12, 'apigateway:Request/SecurityPolicy': ['TLS_1_0'] }, 'Denied', 'create a domain that accepts TLS 1.0'],
    [deployer, 'apigateway:POST', domains, { ...tls12, 'apigateway:Request/EndpointType': ['EDGE'] }, 'Denied', 'create an edge-optimized domain'],
    [deployer, 'apigateway:GET', `${domains}/${domain}`, {}, 'Allowed', 'read the custom domain'],
    [deployer, 'apigateway:PATCH', `${domains}/${domain}`, { 'apigateway:Request/SecurityPolicy': ['TLS_1_0'] }, 'Denied', 'lower the custom domain to TLS 1.0'],
    [deployer, 'apigateway:PATCH', `${domains}/${domain}`, {}, 'Allowed', "change the custom domain's certificate"],
    [deployer, 'apigateway:POST', domains, { 'apigateway:Request/EndpointType': ['REGIONAL'] }, 'Denied', 'create a domain without naming its TLS policy'],
    [deployer, 'apigateway:DELETE', `${domains}/www.example-brand.com`, {}, 'Denied', "delete the brand's website domain"],
    [deployer, 'route53:ChangeResourceRecordSets', zone, records([domain], ['A', 'AAAA']), 'Allowed', "write the custom domain's alias records"],
    [deployer, 'route53:ChangeResourceRecordSets', zone, records(['www.example-brand.com'], ['A']), 'Denied', "repoint the brand's website"],
    [deployer, 'route53:ChangeResourceRecordSets', zone, records([domain, 'example-brand.com'], ['A']), 'Denied', 'one own record and one of the website'],
    [deployer, 'route53:ChangeResourceRecordSets', zone, records([domain], ['TXT']), 'Denied', 'a TXT record (certificate validation, mail policy)'],
    [deployer, 'route53:ChangeResourceRecordSets', 'arn:aws:route53:::hostedzone/ZOTHERZONE', records([domain], ['A']), 'Denied', 'another hosted zone'],
  )
} else {
  cases.push([deployer, 'apigateway:POST', domains, tls12, 'Denied', 'create a custom domain the stack has none of'])
}

// KMS asks the key's own policy first: the default key policy, which lets the account's IAM
// policies grant the key (docs/deploy.md asks for that of an existing secret's key).
const defaultKeyPolicy = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
}

let failed = 0
for (const [who, action, resource, context, expected, what] of cases) {
  const result = await runSimulation(
    {
      request: {
        principal: who.principal,
        action,
        resource: { resource, accountId: account },
        contextVariables: context,
      },
      identityPolicies: who.identityPolicies,
      permissionBoundaryPolicies: who.boundaries,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(action.startsWith('kms:') && { resourcePolicy: defaultKeyPolicy }),
    },
    {},
  )
  if (result.resultType !== 'single') {
    failed++
    console.error(`FAIL ${what}: ${action} on ${resource}: the simulator refused the request: ${JSON.stringify(result.errors ?? result)}`)
    continue
  }
  const decision = result.overallResult === 'Allowed' ? 'Allowed' : 'Denied'
  if (decision !== expected) {
    failed++
    console.error(`FAIL ${what}: ${action} on ${resource} is ${result.overallResult}, not ${expected}`)
  } else {
    console.log(`  ${expected.padEnd(7)} ${what} (${action}, ${result.overallResult})`)
  }
}
if (failed) {
  console.error(`iam-simulation: ${failed} of ${cases.length} decisions are wrong`)
  process.exit(1)
}
const variant = [stage.example.existingSecret ? 'an existing secret' : 'the placeholder secret', ...(domain ? ['a custom domain'] : [])]
console.log(`iam-simulation: ${cases.length} decisions as expected (${variant.join(', ')})`)
