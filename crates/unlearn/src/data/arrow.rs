//! Arrow record batches → a [`Dataset`]: the typed-column reader shared by Parquet files
//! ([`super::parquet`]) and in-memory tables (the Python package hands DataFrames and
//! tables over through the Arrow C data interface and reads them with [`read_batches`]).
//!
//! Column roles follow [`CsvOptions`] and are resolved by the same `Header` as the CSV
//! reader's: the optional id column (text or integers) gives the row ids (else rows are
//! numbered `"0"`, `"1"`, … in order); the optional subject column (text or integers, none
//! missing or empty) gives each row's data subject; the optional target column (text, numbers or
//! booleans) is encoded per [`super::TargetSpec`], its values spelled as the CSV reader
//! would read them (`1.0` as `1`, so a label means the same in every format); the
//! [`CsvOptions::ignore`]d columns are not read; every other column is a feature. A
//! feature is either
//!
//! * a numeric column (Float64, Float32 or an integer type; integers beyond 2⁵³ round to
//!   the nearest f64), one feature per column, named after it; or
//! * a FixedSizeList of numbers, k features in one column `x`, named `x[0]` … `x[k-1]`
//!   (the shape numpy and Arrow give a matrix).
//!
//! Any other column that is a feature (text, booleans, dates) is refused with an error
//! naming it. [`CsvOptions::features`] (a stored model's names) selects exactly those
//! features, in that order. Nulls, NaN and infinities are refused with an error naming the
//! column and the row ([`Origin`] says how a row is counted).
//!
//! Each batch's values are written straight into the row-major features the dataset owns:
//! one pass, one copy, whatever the batch layout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema};

use super::columns::Header;
use super::csv::CsvOptions;
use super::targets::{RawTarget, encode_targets};
use super::text::{MAX_COLUMNS, shorten};
use super::{DataError, Dataset, Declared};

/// Where the batches come from, which says how an error locates a bad value.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A Parquet file: errors name the file, the row group (0-based) and the row of the
    /// file (1-based).
    Parquet {
        /// The file.
        file: String,
        /// Cumulative row counts of the file's row groups.
        row_group_ends: Vec<usize>,
    },
    /// In-memory data (a DataFrame or table): errors name it and the row, counted from 0
    /// as the caller's DataFrame counts it.
    Memory {
        /// What the data is called in messages (e.g. "X").
        name: String,
    },
}

impl Origin {
    /// The name messages give the data.
    fn name(&self) -> &str {
        match self {
            Origin::Parquet { file, .. } => file,
            Origin::Memory { name } => name,
        }
    }

    /// The data as a whole cannot be read.
    fn error(&self, message: String) -> DataError {
        match self {
            Origin::Parquet { file, .. } => DataError::Parquet {
                file: file.clone(),
                message,
            },
            Origin::Memory { name } => DataError::Arrow {
                source_name: name.clone(),
                message,
            },
        }
    }

    /// The value of `column` at 0-based row `row` cannot be used.
    fn value_error(&self, row: usize, column: String, reason: String) -> DataError {
        match self {
            Origin::Parquet {
                file,
                row_group_ends,
            } => DataError::ParquetValue {
                file: file.clone(),
                row_group: row_group_ends.partition_point(|&end| end <= row),
                row: row + 1,
                column,
                reason,
            },
            Origin::Memory { name } => DataError::ArrowValue {
                source_name: name.clone(),
                row,
                column,
                reason,
            },
        }
    }
}

impl Origin {
    /// Row `row` (0-based) as messages count rows: from 1 in a file, from 0 in memory.
    fn row_label(&self, row: usize) -> usize {
        match self {
            Origin::Parquet { .. } => row + 1,
            Origin::Memory { .. } => row,
        }
    }

    /// The id of 0-based row `row` of `column`, checked present and not seen before
    /// (`first_seen`: id → row where it was first seen).
    fn checked_id(
        &self,
        row: usize,
        column: &str,
        id: Option<String>,
        first_seen: &mut HashMap<String, usize>,
    ) -> Result<String, DataError> {
        let id = match id {
            Some(id) if !id.is_empty() => id,
            _ => {
                return Err(self.value_error(
                    row,
                    column.to_string(),
                    "missing id; every row needs one".into(),
                ));
            }
        };
        if let Some(&first) = first_seen.get(&id) {
            return Err(self.value_error(
                row,
                column.to_string(),
                format!(
                    "duplicate id \"{}\" (first at row {})",
                    shorten(&id),
                    self.row_label(first)
                ),
            ));
        }
        first_seen.insert(id.clone(), row);
        Ok(id)
    }
}

/// Reads every batch of an in-memory table with the given schema (see the module docs).
/// An error of the stream itself is reported as the data's error.
pub fn read_batches(
    origin: Origin,
    schema: &Schema,
    batches: impl IntoIterator<Item = Result<RecordBatch, ArrowError>>,
    opts: &CsvOptions,
) -> Result<Dataset, DataError> {
    let mut reader = BatchReader::new(origin, schema, opts)?;
    for batch in batches {
        let batch = batch.map_err(|e| reader.origin.error(e.to_string()))?;
        reader.push(&batch)?;
    }
    reader.finish(opts)
}

/// Where one feature's values come from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Source {
    /// The top-level column.
    column: usize,
    /// The element of a FixedSizeList column, or `None` for a numeric column.
    element: Option<usize>,
}

/// The columns of a schema and the role of each.
struct Layout {
    /// Top-level column names, in schema order.
    names: Vec<String>,
    id: Option<usize>,
    subject: Option<usize>,
    target: Option<usize>,
    /// Where each feature comes from, in feature order, with its name.
    features: Vec<(Source, String)>,
}

/// What a column can be used for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// One number per row.
    Number,
    /// A fixed-size list of numbers (width).
    Vector(usize),
    /// Text.
    Text,
    /// True or false.
    Boolean,
    /// Anything else (dates, structs, binary, …).
    Other,
}

fn is_number(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float64
            | DataType::Float32
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

fn kind(t: &DataType) -> Kind {
    match t {
        t if is_number(t) => Kind::Number,
        DataType::FixedSizeList(item, width) if is_number(item.data_type()) => {
            Kind::Vector(usize::try_from(*width).unwrap_or(0))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Boolean => Kind::Boolean,
        _ => Kind::Other,
    }
}

impl Layout {
    fn resolve(origin: &Origin, fields: &[&Field], opts: &CsvOptions) -> Result<Self, DataError> {
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let kinds: Vec<Kind> = fields.iter().map(|f| kind(f.data_type())).collect();
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for name in &names {
            if !seen.insert(name.as_str()) {
                return Err(origin.error(format!("two columns are named \"{}\"", shorten(name))));
            }
        }
        let header = Header::new(origin.name(), &names);
        let type_error = |k: usize, expected: &str| {
            origin.error(format!(
                "column \"{}\" has type {}; {expected}",
                shorten(&names[k]),
                fields[k].data_type()
            ))
        };
        let roles = header.roles(opts)?;
        if let Some(k) = roles
            .id
            .filter(|&k| !matches!(kinds[k], Kind::Text) && !is_integer(fields[k]))
        {
            return Err(type_error(k, "an id column holds text or integers"));
        }
        if let Some(k) = roles
            .subject
            .filter(|&k| !matches!(kinds[k], Kind::Text) && !is_integer(fields[k]))
        {
            return Err(type_error(k, "a subject column holds text or integers"));
        }
        if let Some(k) = roles
            .target
            .filter(|&k| !matches!(kinds[k], Kind::Number | Kind::Text | Kind::Boolean))
        {
            return Err(type_error(
                k,
                "a target column holds numbers, text or booleans",
            ));
        }
        // Every feature the schema offers, by name.
        let mut offered: Vec<(Source, String)> = Vec::new();
        for (k, name) in names.iter().enumerate() {
            match kinds[k] {
                Kind::Number => offered.push((
                    Source {
                        column: k,
                        element: None,
                    },
                    name.clone(),
                )),
                Kind::Vector(width) => {
                    if width > MAX_COLUMNS {
                        return Err(origin.error(format!(
                            "column \"{}\" holds lists of {width} values; the reader accepts \
                             at most {MAX_COLUMNS} features",
                            shorten(name)
                        )));
                    }
                    offered.extend((0..width).map(|e| {
                        (
                            Source {
                                column: k,
                                element: Some(e),
                            },
                            format!("{name}[{e}]"),
                        )
                    }));
                }
                _ => {}
            }
        }
        let features = match &opts.features {
            Some(wanted) => {
                let by_name: HashMap<&str, Source> =
                    offered.iter().map(|(s, n)| (n.as_str(), *s)).collect();
                let mut chosen = Vec::with_capacity(wanted.len());
                for name in wanted {
                    let Some(&source) = by_name.get(name.as_str()) else {
                        let k = header.find(name, "feature")?;
                        return Err(type_error(k, "a feature column holds numbers"));
                    };
                    header.check_feature(source.column, &roles)?;
                    chosen.push((source, name.clone()));
                }
                chosen
            }
            None => {
                if let Some(k) = (0..names.len()).find(|&k| {
                    !roles.taken(k) && !matches!(kinds[k], Kind::Number | Kind::Vector(_))
                }) {
                    return Err(type_error(
                        k,
                        "a feature column holds numbers or fixed-size lists of numbers; \
                         ignore the column if it is not a feature",
                    ));
                }
                offered
                    .into_iter()
                    .filter(|(s, _)| !roles.taken(s.column))
                    .collect()
            }
        };
        Ok(Self {
            names,
            id: roles.id,
            subject: roles.subject,
            target: roles.target,
            features,
        })
    }

    /// The top-level columns that are read.
    fn used_columns(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self.features.iter().map(|(s, _)| s.column).collect();
        used.extend(self.id);
        used.extend(self.subject);
        used.extend(self.target);
        used.sort_unstable();
        used.dedup();
        used
    }
}

fn is_integer(field: &Field) -> bool {
    is_number(field.data_type())
        && !matches!(field.data_type(), DataType::Float64 | DataType::Float32)
}

/// The values of a numeric array as f64 (null slots hold whatever the array stores there);
/// `None` for a type that is not a number. A Float64 array is borrowed, not copied.
fn numbers(array: &dyn Array) -> Option<Cow<'_, [f64]>> {
    if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        return Some(Cow::Borrowed(a.values().as_ref()));
    }
    macro_rules! convert {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() {
                return Some(a.values().iter().map(|&v| v as f64).collect());
            })*
        };
    }
    convert!(
        Float32Type,
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type
    );
    None
}

/// Row `i` of a text, number or boolean array, spelled as a CSV cell would be; `None` if
/// the value is null.
fn cell_text(array: &dyn Array, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    if let Some(a) = array.as_string_opt::<i32>() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_string_opt::<i64>() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_string_view_opt() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_boolean_opt() {
        return Some(a.value(i).to_string());
    }
    macro_rules! integer {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() {
                return Some(a.value(i).to_string());
            })*
        };
    }
    integer!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    // Floats: Rust's shortest round-trip spelling, which the CSV reader parses back to the
    // same f64 (and which names 1.0 as "1", like canonical labels).
    if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        return Some(a.value(i).to_string());
    }
    array
        .as_primitive_opt::<Float32Type>()
        .map(|a| f64::from(a.value(i)).to_string())
}

/// Reads batches of one schema into a dataset, batch by batch.
pub struct BatchReader {
    origin: Origin,
    layout: Layout,
    ids: Vec<String>,
    /// Row where each id was first seen (0-based).
    first_seen: HashMap<String, usize>,
    features: Vec<f64>,
    targets: Vec<RawTarget>,
    /// Each row's data subject, when the layout has a subject column.
    subjects: Vec<String>,
}

impl BatchReader {
    /// Resolves the roles of the schema's columns (see the module docs).
    pub fn new(origin: Origin, schema: &Schema, opts: &CsvOptions) -> Result<Self, DataError> {
        let fields: Vec<&Field> = schema.fields().iter().map(|f| f.as_ref()).collect();
        let layout = Layout::resolve(&origin, &fields, opts)?;
        Ok(Self {
            origin,
            layout,
            ids: Vec::new(),
            first_seen: HashMap::new(),
            features: Vec::new(),
            targets: Vec::new(),
            subjects: Vec::new(),
        })
    }

    /// The number of features each row has.
    pub fn n_features(&self) -> usize {
        self.layout.features.len()
    }

    /// The indices of the top-level columns that are read (a Parquet projection).
    pub fn used_columns(&self) -> Vec<usize> {
        self.layout.used_columns()
    }

    /// Reads the features into `buffer`'s allocation (its values are discarded): a caller
    /// that reads batch after batch of one size keeps one buffer instead of a fresh one per
    /// batch. A fresh buffer above glibc's mmap threshold (32 MB: 65,536 rows of 100
    /// features are 52 MB) is new pages that the kernel faults in and zeroes on first
    /// write, every batch (BENCHMARKS.md, "5,000,000 × 100, round 4").
    pub fn with_buffer(mut self, mut buffer: Vec<f64>) -> Self {
        buffer.clear();
        self.features = buffer;
        self
    }

    /// Room for `rows` rows (the caller knows the total; the features are allocated once).
    pub fn reserve(&mut self, rows: usize) {
        self.ids.reserve(rows);
        self.features
            .reserve(rows.saturating_mul(self.n_features()));
    }

    /// Appends the rows of `batch` (its columns by name, as in the schema).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), DataError> {
        let Self {
            origin,
            layout,
            ids,
            first_seen,
            features,
            targets,
            subjects,
        } = self;
        let first = ids.len();
        let n = batch.num_rows();
        let d = layout.features.len();
        // A batch of the schema's own columns (a stream's batches, a file's unprojected
        // ones) is indexed as the schema is; a projected batch is looked up by name. A
        // batch of a few wide rows (a removal's given rows) then costs no name search.
        let positional = batch.num_columns() == layout.names.len()
            && batch
                .schema_ref()
                .fields()
                .iter()
                .zip(&layout.names)
                .all(|(f, name)| f.name() == name);
        let column = |k: usize| {
            let found = if positional {
                Some(batch.column(k))
            } else {
                batch.column_by_name(&layout.names[k])
            };
            found.ok_or_else(|| {
                origin.error(format!(
                    "a batch has no column \"{}\" (the schema has)",
                    shorten(&layout.names[k])
                ))
            })
        };
        let start = features.len();
        features.resize(start + n * d, 0.0);
        // Each column's values converted once per batch (a list column feeds k features).
        let mut converted: HashMap<usize, Cow<'_, [f64]>> = HashMap::new();
        let mut lists = Vec::with_capacity(d);
        for (source, name) in &layout.features {
            let array = column(source.column)?;
            let list = source.element.map(|_| array.as_fixed_size_list());
            let values_array: &dyn Array = match list {
                Some(list) => list.values().as_ref(),
                None => array.as_ref(),
            };
            if let Entry::Vacant(e) = converted.entry(source.column) {
                e.insert(numbers(values_array).ok_or_else(|| {
                    origin.error(format!(
                        "column \"{}\" has type {} in a batch; a feature column holds numbers",
                        shorten(name),
                        values_array.data_type()
                    ))
                })?);
            }
            lists.push((list, values_array.nulls()));
        }
        // Where feature j of row i sits: its column's values at the row (or at the row's
        // list offset plus the element), null masks read once per batch, not per value.
        let sources: Vec<_> = layout
            .features
            .iter()
            .zip(lists)
            .map(|((source, name), (list, nulls))| {
                (
                    &converted[&source.column][..],
                    list,
                    source.element,
                    nulls,
                    name,
                )
            })
            .collect();
        // Row by row, so the row-major buffer is written in order.
        for (i, row) in features[start..]
            .chunks_exact_mut(d.max(1))
            .enumerate()
            .take(n)
        {
            for (slot, &(values, list, element, nulls, name)) in row.iter_mut().zip(&sources) {
                let at = match (list, element) {
                    (Some(list), Some(e)) => {
                        if list.is_null(i) {
                            return Err(origin.value_error(
                                first + i,
                                name.clone(),
                                "missing value (null list); fill it in or remove the row".into(),
                            ));
                        }
                        list.value_offset_at(i) + e
                    }
                    _ => i,
                };
                if nulls.is_some_and(|mask| mask.is_null(at)) {
                    return Err(origin.value_error(
                        first + i,
                        name.clone(),
                        "missing value (null); fill it in or remove the row".into(),
                    ));
                }
                let v = values[at];
                if !v.is_finite() {
                    return Err(origin.value_error(
                        first + i,
                        name.clone(),
                        format!("the value {v} is not a finite number"),
                    ));
                }
                *slot = v;
            }
        }
        if let Some(k) = layout.target {
            let array = column(k)?;
            for i in 0..n {
                let label = cell_text(array.as_ref(), i).ok_or_else(|| {
                    origin.value_error(
                        first + i,
                        layout.names[k].clone(),
                        "missing target (null); fill it in or remove the row".into(),
                    )
                })?;
                targets.push((first + i + 1, label));
            }
        }
        if let Some(k) = layout.subject {
            let array = column(k)?;
            for i in 0..n {
                let subject = cell_text(array.as_ref(), i)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        origin.value_error(
                            first + i,
                            layout.names[k].clone(),
                            "missing subject; every row needs one".into(),
                        )
                    })?;
                subjects.push(subject);
            }
        }
        let id_column = layout.id.map(|k| column(k).map(|a| (k, a))).transpose()?;
        for i in 0..n {
            let id = match &id_column {
                Some((k, array)) => {
                    let id = cell_text(array.as_ref(), i);
                    origin.checked_id(first + i, &layout.names[*k], id, first_seen)?
                }
                None => (first + i).to_string(),
            };
            ids.push(id);
        }
        Ok(())
    }

    /// The dataset read (an error if no row was).
    pub fn finish(self, opts: &CsvOptions) -> Result<Dataset, DataError> {
        if self.ids.is_empty() {
            return Err(match self.origin {
                Origin::Parquet { file, .. } => DataError::Empty {
                    file,
                    what: "no data rows",
                },
                Origin::Memory { name } => DataError::Arrow {
                    source_name: name,
                    message: "no rows; give at least one".into(),
                },
            });
        }
        let targets = match self.layout.target {
            Some(k) => encode_targets(
                self.origin.name(),
                &self.layout.names[k],
                &self.targets,
                &opts.spec,
            )?,
            None => None,
        };
        let names = self
            .layout
            .features
            .iter()
            .map(|(_, n)| n.clone())
            .collect();
        let declared = Declared {
            classes: opts.spec.declares_classes(),
            features: true,
        };
        let data = Dataset::new(self.ids, names, self.features, targets)?.with_declared(declared);
        match self.layout.subject {
            Some(_) => data.with_subjects(self.subjects),
            None => Ok(data),
        }
    }
}
