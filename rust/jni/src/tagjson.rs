//! JNI entry points of `org.etkmqtt.NativeTagJson` and
//! `NativeClient.publishTags`: Java tag arrays in, tag JSON out, and back.

use std::sync::OnceLock;

use etkmqtt_core::tagjson::{self, TagValue};
use jni::objects::{
    GlobalRef, JByteArray, JClass, JMethodID, JObject, JObjectArray, JString, JValue,
};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jint, jlong, jobjectArray, jstring, JNI_TRUE};
use jni::JNIEnv;

use crate::{boundary, client, string, BridgeError, BridgeResult};

/// Classes and methods used for every value, looked up once.
struct ValueClasses {
    number: GlobalRef,
    double_value: JMethodID,
    long_value: JMethodID,
    float: GlobalRef,
    float_value: JMethodID,
    boolean: GlobalRef,
    boolean_value: JMethodID,
    string: GlobalRef,
    double_class: GlobalRef,
    double_new: JMethodID,
    boolean_new: JMethodID,
    tag_value: GlobalRef,
    tag_value_new: JMethodID,
}

static VALUE_CLASSES: OnceLock<ValueClasses> = OnceLock::new();

fn classes(env: &mut JNIEnv<'_>) -> BridgeResult<&'static ValueClasses> {
    if let Some(cached) = VALUE_CLASSES.get() {
        return Ok(cached);
    }
    let number = env.find_class("java/lang/Number")?;
    let double_value = env.get_method_id(&number, "doubleValue", "()D")?;
    let long_value = env.get_method_id(&number, "longValue", "()J")?;
    let float = env.find_class("java/lang/Float")?;
    let float_value = env.get_method_id(&float, "floatValue", "()F")?;
    let boolean = env.find_class("java/lang/Boolean")?;
    let boolean_value = env.get_method_id(&boolean, "booleanValue", "()Z")?;
    let boolean_new = env.get_method_id(&boolean, "<init>", "(Z)V")?;
    let string = env.find_class("java/lang/String")?;
    let double_class = env.find_class("java/lang/Double")?;
    let double_new = env.get_method_id(&double_class, "<init>", "(D)V")?;
    let tag_value = env.find_class("org/etkmqtt/TagValue")?;
    let tag_value_new = env.get_method_id(
        &tag_value,
        "<init>",
        "(Ljava/lang/String;Ljava/lang/Object;Ljava/lang/String;)V",
    )?;
    let loaded = ValueClasses {
        number: env.new_global_ref(number)?,
        double_value,
        long_value,
        float: env.new_global_ref(float)?,
        float_value,
        boolean: env.new_global_ref(boolean)?,
        boolean_value,
        string: env.new_global_ref(string)?,
        double_class: env.new_global_ref(double_class)?,
        double_new,
        boolean_new,
        tag_value: env.new_global_ref(tag_value)?,
        tag_value_new,
    };
    Ok(VALUE_CLASSES.get_or_init(|| loaded))
}

fn as_class(global: &GlobalRef) -> &JClass<'static> {
    <&JClass>::from(global.as_obj())
}

/// Converts the Java arrays; errors name the element.
fn java_tags(
    env: &mut JNIEnv<'_>,
    names: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
) -> BridgeResult<(Vec<String>, Vec<TagValue>)> {
    if names.is_null() || values.is_null() {
        return Err(BridgeError::Engine(
            "tag names and values must not be null".to_owned(),
        ));
    }
    let count = env.get_array_length(names)?;
    let value_count = env.get_array_length(values)?;
    if count != value_count {
        return Err(BridgeError::from(etkmqtt_core::Error::TagJson(
            tagjson::TagJsonError::LengthMismatch {
                names: count as usize,
                values: value_count as usize,
            },
        )));
    }
    let classes = classes(env)?;
    let mut tag_names = Vec::with_capacity(count as usize);
    let mut tag_values = Vec::with_capacity(count as usize);
    for index in 0..count {
        let name = JString::from(env.get_object_array_element(names, index)?);
        if name.is_null() {
            return Err(BridgeError::from(etkmqtt_core::Error::TagJson(
                tagjson::TagJsonError::NullName {
                    index: index as usize,
                },
            )));
        }
        // `names` is a String[] parameter: its elements are Strings (the JVM
        // checks array stores).
        tag_names.push(string(env, &name, &format!("tag name {index}"))?);
        env.delete_local_ref(name)?;
        let value = env.get_object_array_element(values, index)?;
        tag_values.push(java_value(env, classes, &value, index)?);
        env.delete_local_ref(value)?;
    }
    Ok((tag_names, tag_values))
}

fn java_value(
    env: &mut JNIEnv<'_>,
    classes: &ValueClasses,
    value: &JObject<'_>,
    index: jint,
) -> BridgeResult<TagValue> {
    if value.is_null() {
        return Ok(TagValue::Null);
    }
    if env.is_instance_of(value, as_class(&classes.number))? {
        return number_value(env, classes, value);
    }
    if env.is_instance_of(value, as_class(&classes.boolean))? {
        // SAFETY: `boolean_value` is Boolean.booleanValue()Z and `value` is a Boolean.
        let flag = unsafe {
            env.call_method_unchecked(
                value,
                classes.boolean_value,
                ReturnType::Primitive(Primitive::Boolean),
                &[],
            )
        }?
        .z()?;
        return Ok(TagValue::Bool(flag));
    }
    if env.is_instance_of(value, as_class(&classes.string))? {
        let text = <&JString>::from(value);
        return Ok(TagValue::Text(string(
            env,
            text,
            &format!("tag value {index}"),
        )?));
    }
    let class = env.get_object_class(value)?;
    let class_name: String = {
        let name = env
            .call_method(&class, "getName", "()Ljava/lang/String;", &[])?
            .l()?;
        env.get_string(&JString::from(name))?.into()
    };
    Err(BridgeError::Engine(format!(
        "tag value {index} is a {class_name}; supported: Number, Boolean, String or null"
    )))
}

/// A `java.lang.Number` as the tag JSON should show it: a Float in its own
/// shortest form (`0.1f` is `0.1`, not `0.10000000149011612`), an integral
/// value exactly, even a Long beyond 2^53, anything else as a double.
fn number_value(
    env: &mut JNIEnv<'_>,
    classes: &ValueClasses,
    value: &JObject<'_>,
) -> BridgeResult<TagValue> {
    if env.is_instance_of(value, as_class(&classes.float))? {
        // SAFETY: `float_value` is Float.floatValue()F and `value` is a Float.
        let float = unsafe {
            env.call_method_unchecked(
                value,
                classes.float_value,
                ReturnType::Primitive(Primitive::Float),
                &[],
            )
        }?
        .f()?;
        // Display gives the shortest decimal that reads back as this f32;
        // as an f64 that decimal prints the same way.
        let shortest = float.to_string().parse::<f64>().unwrap_or(f64::from(float));
        return Ok(TagValue::Number(shortest));
    }
    // SAFETY: `double_value` is Number.doubleValue()D and `value` is a Number.
    let double = unsafe {
        env.call_method_unchecked(
            value,
            classes.double_value,
            ReturnType::Primitive(Primitive::Double),
            &[],
        )
    }?
    .d()?;
    if double.is_finite() && double.fract() == 0.0 && double.abs() <= 9.3e18 {
        // SAFETY: `long_value` is Number.longValue()J and `value` is a Number.
        let long = unsafe {
            env.call_method_unchecked(
                value,
                classes.long_value,
                ReturnType::Primitive(Primitive::Long),
                &[],
            )
        }?
        .j()?;
        // The same number seen both ways: the long is the exact one (a Long
        // beyond 2^53 rounds as a double). A BigDecimal 1e300 would not agree.
        if long as f64 == double {
            return Ok(TagValue::Integer(long));
        }
    }
    Ok(TagValue::Number(double))
}

fn java_tag_value<'local>(
    env: &mut JNIEnv<'local>,
    classes: &ValueClasses,
    value: &TagValue,
) -> BridgeResult<JObject<'local>> {
    let double = |env: &mut JNIEnv<'local>, number: f64| {
        // SAFETY: `double_new` is Double(D) of `double_class`, called with
        // one double.
        unsafe {
            env.new_object_unchecked(
                as_class(&classes.double_class),
                classes.double_new,
                &[JValue::Double(number).as_jni()],
            )
        }
    };
    Ok(match value {
        TagValue::Null => JObject::null(),
        TagValue::Integer(integer) => double(env, *integer as f64)?,
        TagValue::Number(number) => double(env, *number)?,
        // SAFETY: `boolean_new` is Boolean(Z) of `boolean`, called with one
        // boolean.
        TagValue::Bool(flag) => unsafe {
            env.new_object_unchecked(
                as_class(&classes.boolean),
                classes.boolean_new,
                &[JValue::Bool(jboolean::from(*flag)).as_jni()],
            )
        }?,
        TagValue::Text(text) => env.new_string(text)?.into(),
    })
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeTagJson_encode<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
    epoch_millis: jlong,
    utc_offset_minutes: jint,
) -> jstring {
    boundary(&mut env, std::ptr::null_mut(), |env| {
        let (names, values) = java_tags(env, &names, &values)?;
        let mut json = String::new();
        tagjson::encode_into(
            &mut json,
            names.iter().map(String::as_str).zip(&values),
            epoch_millis,
            utc_offset_minutes,
        )
        .map_err(etkmqtt_core::Error::from)?;
        Ok(env.new_string(json)?.into_raw())
    })
}

/// A `TagValue[]` of `len` nulls, to fill with [`new_tag_value`].
pub(crate) fn tag_value_array<'local>(
    env: &mut JNIEnv<'local>,
    len: usize,
) -> BridgeResult<JObjectArray<'local>> {
    let classes = classes(env)?;
    let len = jint::try_from(len)
        .map_err(|_| BridgeError::Engine(format!("{len} values do not fit in a Java array")))?;
    Ok(env.new_object_array(len, as_class(&classes.tag_value), JObject::null())?)
}

/// `new TagValue(name, value, time)`; `value`'s local reference is used up.
pub(crate) fn new_tag_value<'local>(
    env: &mut JNIEnv<'local>,
    name: &str,
    value: JObject<'local>,
    time: Option<&str>,
) -> BridgeResult<JObject<'local>> {
    let classes = classes(env)?;
    let name = env.new_string(name)?;
    let time: JObject = match time {
        Some(time) => env.new_string(time)?.into(),
        None => JObject::null(),
    };
    // SAFETY: `tag_value_new` is TagValue(String, Object, String) and the
    // arguments are a String, an Object (or null) and a String (or null).
    let element = unsafe {
        env.new_object_unchecked(
            as_class(&classes.tag_value),
            classes.tag_value_new,
            &[
                JValue::Object(&name).as_jni(),
                JValue::Object(&value).as_jni(),
                JValue::Object(&time).as_jni(),
            ],
        )
    }?;
    for local in [name.into(), value, time] {
        env.delete_local_ref(local)?;
    }
    Ok(element)
}

#[no_mangle]
pub extern "system" fn Java_org_etkmqtt_NativeTagJson_decode<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    payload: JByteArray<'local>,
) -> jobjectArray {
    boundary(&mut env, std::ptr::null_mut(), |env| {
        if payload.is_null() {
            return Err(BridgeError::Engine("payload must not be null".to_owned()));
        }
        let bytes = env.convert_byte_array(&payload)?;
        let tags = tagjson::decode(&bytes).map_err(etkmqtt_core::Error::from)?;
        let classes = classes(env)?;
        let array = tag_value_array(env, tags.len())?;
        for (index, tag) in tags.iter().enumerate() {
            let value = java_tag_value(env, classes, &tag.value)?;
            let element = new_tag_value(env, &tag.name, value, tag.time.as_deref())?;
            env.set_object_array_element(&array, index as jint, &element)?;
            env.delete_local_ref(element)?;
        }
        Ok(array.into_raw())
    })
}

#[no_mangle]
#[allow(clippy::too_many_arguments)] // the JNI signature of publishTags
pub extern "system" fn Java_org_etkmqtt_NativeClient_publishTags<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    topic: JString<'local>,
    names: JObjectArray<'local>,
    values: JObjectArray<'local>,
    epoch_millis: jlong,
    qos: jint,
    retain: jboolean,
) {
    boundary(&mut env, (), |env| {
        let topic = string(env, &topic, "topic")?;
        let (names, values) = java_tags(env, &names, &values)?;
        Ok(client(handle)?.publish_tags(
            &topic,
            names.iter().map(String::as_str).zip(&values),
            epoch_millis,
            qos,
            retain == JNI_TRUE,
        )?)
    })
}
