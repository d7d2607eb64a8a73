//! JNI entry points of `org.etkmqtt.NativeSparkplug`: the Sparkplug B edge
//! node of `org.etkmqtt.SparkplugNode`. Java metric arrays in, the core's
//! [`SparkplugNode`] does the rest; commands come back as `TagValue[]`.

use std::sync::{Arc, OnceLock};

use etkmqtt_core::boundary::Handles;
use etkmqtt_core::sparkplug::{CommandValue, NodeError, SparkplugError, SparkplugNode, Value};
use jni::objects::{
    GlobalRef, JByteArray, JClass, JMethodID, JObject, JObjectArray, JString, JValue,
};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jint, jlong, jobjectArray, jvalue};
use jni::JNIEnv;

use crate::tagjson::{new_tag_value, tag_value_array};
use crate::{boundary, client, string, BridgeError, BridgeResult};

/// The boxed classes of metric values and `TagValue`, looked up once.
struct Classes {
    integer: GlobalRef,
    integer_value: JMethodID,
    integer_new: JMethodID,
    long: GlobalRef,
    long_value: JMethodID,
    long_new: JMethodID,
    float: GlobalRef,
    float_value: JMethodID,
    float_new: JMethodID,
    double: GlobalRef,
    double_value: JMethodID,
    double_new: JMethodID,
    boolean: GlobalRef,
    boolean_value: JMethodID,
    boolean_new: JMethodID,
    string: GlobalRef,
}

static CLASSES: OnceLock<Classes> = OnceLock::new();

fn classes(env: &mut JNIEnv<'_>) -> BridgeResult<&'static Classes> {
    if let Some(cached) = CLASSES.get() {
        return Ok(cached);
    }
    // Constructors, not valueOf: Java 1.4 (the Flexy's JVM) has no valueOf(int).
    let integer = env.find_class("java/lang/Integer")?;
    let integer_value = env.get_method_id(&integer, "intValue", "()I")?;
    let integer_new = env.get_method_id(&integer, "<init>", "(I)V")?;
    let long = env.find_class("java/lang/Long")?;
    let long_value = env.get_method_id(&long, "longValue", "()J")?;
    let long_new = env.get_method_id(&long, "<init>", "(J)V")?;
    let float = env.find_class("java/lang/Float")?;
    let float_value = env.get_method_id(&float, "floatValue", "()F")?;
    let float_new = env.get_method_id(&float, "<init>", "(F)V")?;
    let double = env.find_class("java/lang/Double")?;
    let double_value = env.get_method_id(&double, "doubleValue", "()D")?;
    let double_new = env.get_method_id(&double, "<init>", "(D)V")?;
    let boolean = env.find_class("java/lang/Boolean")?;
    let boolean_value = env.get_method_id(&boolean, "booleanValue", "()Z")?;
    let boolean_new = env.get_method_id(&boolean, "<init>", "(Z)V")?;
    let string = env.find_class("java/lang/String")?;
    let loaded = Classes {
        integer: env.new_global_ref(integer)?,
        integer_value,
        integer_new,
        long: env.new_global_ref(long)?,
        long_value,
        long_new,
        float: env.new_global_ref(float)?,
        float_value,
        float_new,
        double: env.new_global_ref(double)?,
        double_value,
        double_new,
        boolean: env.new_global_ref(boolean)?,
        boolean_value,
        boolean_new,
        string: env.new_global_ref(string)?,
    };
    Ok(CLASSES.get_or_init(|| loaded))
}

fn as_class(global: &GlobalRef) -> &JClass<'static> {
    <&JClass>::from(global.as_obj())
}

impl From<SparkplugError> for BridgeError {
    fn from(error: SparkplugError) -> BridgeError {
        BridgeError::Engine(error.to_string())
    }
}

impl From<NodeError> for BridgeError {
    fn from(error: NodeError) -> BridgeError {
        BridgeError::Engine(error.to_string())
    }
}

/// Every node a Java `SparkplugNode` holds, by its handle.
static NODES: Handles<SparkplugNode> = Handles::new();

/// The node behind a handle from `create` that `free` has not removed.
fn node(handle: jlong) -> BridgeResult<Arc<SparkplugNode>> {
    NODES
        .get(handle)
        .ok_or_else(|| SparkplugError::Closed.into())
}

/// Reads the metric arrays; errors name the element.
fn java_metrics(
    env: &mut JNIEnv<'_>,
    names: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
) -> BridgeResult<Vec<(String, Option<Value>)>> {
    if names.is_null() || values.is_null() {
        return Err(BridgeError::Engine(
            "metric names and values must not be null".to_owned(),
        ));
    }
    let count = env.get_array_length(names)?;
    let value_count = env.get_array_length(values)?;
    if count != value_count {
        return Err(SparkplugError::LengthMismatch {
            names: count as usize,
            values: value_count as usize,
        }
        .into());
    }
    let classes = classes(env)?;
    let mut metrics = Vec::with_capacity(count as usize);
    for index in 0..count {
        let name = JString::from(env.get_object_array_element(names, index)?);
        if name.is_null() {
            return Err(SparkplugError::NullName {
                index: index as usize,
            }
            .into());
        }
        // `names` is a String[] parameter: its elements are Strings (the JVM
        // checks array stores).
        let name_text = string(env, &name, &format!("metric name {index}"))?;
        env.delete_local_ref(name)?;
        let value = env.get_object_array_element(values, index)?;
        let converted = java_value(env, classes, &value, &name_text)?;
        env.delete_local_ref(value)?;
        metrics.push((name_text, converted));
    }
    Ok(metrics)
}

/// One boxed value; the Java class decides the Sparkplug datatype.
fn java_value(
    env: &mut JNIEnv<'_>,
    classes: &Classes,
    value: &JObject<'_>,
    name: &str,
) -> BridgeResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    /// Calls a no-argument getter that returns `primitive`.
    ///
    /// # Safety
    /// `method` must be a method of `value`'s class returning `primitive`
    /// and taking no arguments.
    unsafe fn call<'local>(
        env: &mut JNIEnv<'local>,
        value: &JObject<'_>,
        method: JMethodID,
        primitive: Primitive,
    ) -> jni::errors::Result<jni::objects::JValueOwned<'local>> {
        // SAFETY: guaranteed by the caller.
        unsafe { env.call_method_unchecked(value, method, ReturnType::Primitive(primitive), &[]) }
    }
    if env.is_instance_of(value, as_class(&classes.integer))? {
        // SAFETY: `value` is an Integer; intValue()I.
        let v = unsafe { call(env, value, classes.integer_value, Primitive::Int) }?;
        return Ok(Some(Value::Int32(v.i()?)));
    }
    if env.is_instance_of(value, as_class(&classes.long))? {
        // SAFETY: `value` is a Long; longValue()J.
        let v = unsafe { call(env, value, classes.long_value, Primitive::Long) }?;
        return Ok(Some(Value::Int64(v.j()?)));
    }
    if env.is_instance_of(value, as_class(&classes.float))? {
        // SAFETY: `value` is a Float; floatValue()F.
        let v = unsafe { call(env, value, classes.float_value, Primitive::Float) }?;
        return Ok(Some(Value::Float(v.f()?)));
    }
    if env.is_instance_of(value, as_class(&classes.double))? {
        // SAFETY: `value` is a Double; doubleValue()D.
        let v = unsafe { call(env, value, classes.double_value, Primitive::Double) }?;
        return Ok(Some(Value::Double(v.d()?)));
    }
    if env.is_instance_of(value, as_class(&classes.boolean))? {
        // SAFETY: `value` is a Boolean; booleanValue()Z.
        let v = unsafe { call(env, value, classes.boolean_value, Primitive::Boolean) }?;
        return Ok(Some(Value::Boolean(v.z()?)));
    }
    if env.is_instance_of(value, as_class(&classes.string))? {
        let text = string(env, <&JString>::from(value), &format!("metric '{name}'"))?;
        return Ok(Some(Value::String(text)));
    }
    let class = env.get_object_class(value)?;
    let class_name: String = {
        let name = env
            .call_method(&class, "getName", "()Ljava/lang/String;", &[])?
            .l()?;
        env.get_string(&JString::from(name))?.into()
    };
    Err(SparkplugError::UnsupportedValue {
        name: name.to_owned(),
        class: class_name,
    }
    .into())
}

fn java_object<'local>(
    env: &mut JNIEnv<'local>,
    classes: &Classes,
    value: &Option<Value>,
) -> BridgeResult<JObject<'local>> {
    let new = |env: &mut JNIEnv<'local>, class: &GlobalRef, constructor: JMethodID, arg: jvalue| {
        // SAFETY: every call below passes a class, its one-argument
        // constructor and one argument of that constructor's type.
        unsafe { env.new_object_unchecked(as_class(class), constructor, &[arg]) }
    };
    Ok(match value {
        None => JObject::null(),
        Some(Value::Int32(v)) => new(
            env,
            &classes.integer,
            classes.integer_new,
            JValue::Int(*v).as_jni(),
        )?,
        Some(Value::Int64(v)) => new(
            env,
            &classes.long,
            classes.long_new,
            JValue::Long(*v).as_jni(),
        )?,
        Some(Value::Float(v)) => new(
            env,
            &classes.float,
            classes.float_new,
            JValue::Float(*v).as_jni(),
        )?,
        Some(Value::Double(v)) => new(
            env,
            &classes.double,
            classes.double_new,
            JValue::Double(*v).as_jni(),
        )?,
        Some(Value::Boolean(v)) => new(
            env,
            &classes.boolean,
            classes.boolean_new,
            JValue::Bool(u8::from(*v)).as_jni(),
        )?,
        Some(Value::String(v)) => env.new_string(v)?.into(),
    })
}

fn tag_values(env: &mut JNIEnv<'_>, commands: &[CommandValue]) -> BridgeResult<jobjectArray> {
    let classes = classes(env)?;
    let array = tag_value_array(env, commands.len())?;
    for (index, command) in commands.iter().enumerate() {
        let value = java_object(env, classes, &command.value)?;
        let time = command.timestamp.map(|millis| millis.to_string());
        let element = new_tag_value(env, &command.name, value, time.as_deref())?;
        env.set_object_array_element(&array, index as jint, &element)?;
        env.delete_local_ref(element)?;
    }
    Ok(array.into_raw())
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_create<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    client_handle: jlong,
    group_id: JString<'local>,
    edge_node_id: JString<'local>,
) -> jlong {
    boundary(&mut env, 0, |env| {
        let group_id = string(env, &group_id, "groupId")?;
        let edge_node_id = string(env, &edge_node_id, "edgeNodeId")?;
        let node = SparkplugNode::attach(&*client(client_handle)?, &group_id, &edge_node_id)?;
        Ok(NODES.insert(node))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_setNodeMetrics<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
) {
    boundary(&mut env, (), |env| {
        let metrics = java_metrics(env, &names, &values)?;
        Ok(node(handle)?.set_node_metrics(metrics)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_setDeviceMetrics<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    device_id: JString<'local>,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
) {
    boundary(&mut env, (), |env| {
        let device_id = string(env, &device_id, "deviceId")?;
        let metrics = java_metrics(env, &names, &values)?;
        Ok(node(handle)?.set_device_metrics(&device_id, metrics)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_publishNodeData<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
    epoch_millis: jlong,
) {
    boundary(&mut env, (), |env| {
        let metrics = java_metrics(env, &names, &values)?;
        Ok(node(handle)?.publish_node_data(metrics, epoch_millis)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_publishDeviceData<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    device_id: JString<'local>,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
    epoch_millis: jlong,
) {
    boundary(&mut env, (), |env| {
        let device_id = string(env, &device_id, "deviceId")?;
        let metrics = java_metrics(env, &names, &values)?;
        Ok(node(handle)?.publish_device_data(&device_id, metrics, epoch_millis)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_setPrimaryHost<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    client_handle: jlong,
    host_id: JString<'local>,
) {
    boundary(&mut env, (), |env| {
        let host_id = string(env, &host_id, "hostId")?;
        Ok(node(handle)?.set_primary_host(&*client(client_handle)?, &host_id)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_decodeCommand<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    topic: JString<'local>,
    payload: JByteArray<'local>,
) -> jobjectArray {
    boundary(&mut env, std::ptr::null_mut(), |env| {
        let topic = string(env, &topic, "topic")?;
        let payload = if payload.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(&payload)?
        };
        match node(handle)?.decode_command(&topic, &payload)? {
            Some(commands) => tag_values(env, &commands),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_bdSeq<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    boundary(&mut env, -1, |_| Ok(jlong::from(node(handle)?.bd_seq())))
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_queuedCount<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    boundary(&mut env, 0, |_| {
        Ok(jint::try_from(node(handle)?.queued_count()).unwrap_or(jint::MAX))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_droppedCount<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    boundary(&mut env, 0, |_| {
        Ok(jlong::try_from(node(handle)?.dropped_count()).unwrap_or(jlong::MAX))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    boundary(&mut env, (), |_| Ok(node(handle)?.close()?))
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeSparkplug_free<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    boundary(&mut env, (), |_| {
        NODES.remove(handle);
        Ok(())
    })
}
