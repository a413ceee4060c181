//! The moto harness itself (`keel_tests::moto`): the shared server starts (or
//! is the one `KEEL_MOTO_ENDPOINT` names), speaks EC2's query protocol, and
//! `reset` really wipes what was created while the server keeps answering.
//! One test only: it resets the whole server.

use keel_tests::moto::Moto;

const DESCRIBE_VPCS: &str = "Action=DescribeVpcs&Version=2016-11-15";

fn describe_vpcs(moto: &Moto) -> String {
    let response = moto.query("ec2", DESCRIBE_VPCS).expect("DescribeVpcs");
    assert_eq!(response.status, 200, "DescribeVpcs: {}", response.body);
    assert!(
        response.body.contains("<DescribeVpcsResponse"),
        "{}",
        response.body
    );
    response.body
}

#[test]
fn moto_answers_ec2_and_resets() {
    let moto = Moto::shared();
    assert!(moto.endpoint.starts_with("http://"), "{}", moto.endpoint);
    let env = moto.aws_env();
    assert!(env.contains(&("AWS_ENDPOINT_URL", moto.endpoint.clone())));
    assert!(env.contains(&("AWS_REGION", "us-east-1".to_string())));

    // moto's default VPC in us-east-1.
    let before = describe_vpcs(moto);
    assert!(before.contains("<isDefault>true</isDefault>"), "{before}");
    assert!(before.contains("172.31.0.0/16"), "{before}");

    let created = moto
        .query(
            "ec2",
            "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.99.0.0%2F16",
        )
        .expect("CreateVpc");
    assert_eq!(created.status, 200, "CreateVpc: {}", created.body);
    assert!(describe_vpcs(moto).contains("10.99.0.0/16"));

    moto.reset();
    let after = describe_vpcs(moto);
    assert!(
        !after.contains("10.99.0.0/16"),
        "reset kept the VPC: {after}"
    );
    assert!(after.contains("<isDefault>true</isDefault>"), "{after}");
}
